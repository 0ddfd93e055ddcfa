import { GraphQLSchemaHost } from '@nestjs/graphql';
import { getIntrospectionQuery, graphql, validateSchema } from 'graphql';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printSortedSchema } from '../../src/graphql/schema-printer.js';
import { startTestApp, type TestApp } from './support/app.js';

describe('schema.graphql', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());

  it('is exactly what the code produces (run `npm run schema` after changing the graph)', async () => {
    const committed = await readFile(new URL('../../schema.graphql', import.meta.url), 'utf8');
    expect(printSortedSchema(t.app.get(GraphQLSchemaHost).schema)).toBe(committed);
  });

  // start-up skips @nestjs/graphql's own check (skipCheck): the same check, here
  it('is a valid schema that answers the introspection query', async () => {
    const schema = t.app.get(GraphQLSchemaHost).schema;
    expect(validateSchema(schema)).toEqual([]);
    const result = await graphql({ schema, source: getIntrospectionQuery() });
    expect(result.errors).toBeUndefined();
  });

  it('never uses Int for bytes, inodes or times', () => {
    const schema = t.app.get(GraphQLSchemaHost).schema;
    const suspicious: string[] = [];
    for (const type of Object.values(schema.getTypeMap())) {
      if (type.name.startsWith('__') || !('getFields' in type)) continue;
      for (const field of Object.values((type as { getFields(): Record<string, { type: unknown }> }).getFields())) {
        if (/bytes|inode|usage|limit$|max$|peak|ns$|Ns$|Us$/i.test((field as unknown as { name: string }).name) && String(field.type).replace(/[![\]]/g, '') === 'Int') {
          suspicious.push(`${type.name}.${(field as unknown as { name: string }).name}`);
        }
      }
    }
    expect(suspicious).toEqual([]);
  });
});

import { GraphQLSchemaHost } from '@nestjs/graphql';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../app.factory.js';
import { loadConfig } from '../config/config.js';
import { printSortedSchema } from '../graphql/schema-printer.js';

/** Writes the code's GraphQL schema to schema.graphql (or the path given). */
async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'nsgate-schema-'));
  try {
    const app = await createApp(loadConfig({ ...process.env, NSGATE_DATA_DIR: dataDir }), { logs: false });
    await app.init();
    const sdl = printSortedSchema(app.get(GraphQLSchemaHost).schema);
    await app.close();
    const out = process.argv[2] ?? 'schema.graphql';
    await writeFile(out, sdl);
    process.stderr.write(`wrote ${out}\n`);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`nsgate schema: ${(err as Error).stack}\n`);
  process.exit(1);
});

import type { OpenAPIObject } from '@nestjs/swagger';
import { describe, expect, it } from 'vitest';
import { finishOpenApiDocument } from './openapi-document.js';

/** What @nestjs/swagger writes for a few routes, with the extensions the decorators add. */
function raw(): OpenAPIObject {
  return {
    openapi: '3.1.0',
    info: { title: 't', version: '1' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: {
        Thing: {
          type: 'object',
          properties: {
            bytes: { type: 'number' },
            maybe: { type: ['number', 'null'] },
            percent: { type: 'number', format: 'double' },
            list: { type: 'array', items: { type: 'number' } },
            example: { type: 'object', example: { type: 'number' } },
          },
        },
      },
    },
    paths: {
      '/healthz': { get: { responses: { '200': { description: '' } }, 'x-public': true } },
      '/things/{id}': {
        get: { parameters: [{ name: 'id', in: 'path', required: true }], responses: { '200': { description: '' } }, 'x-required-role': 'viewer', 'x-error-codes': ['NOT_FOUND'] },
        patch: {
          parameters: [{ name: 'id', in: 'path', required: true }],
          requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } } },
          responses: { '200': { description: '' } },
          'x-required-role': 'operator',
          'x-audited': 'thing.change',
        },
      },
    },
  } as unknown as OpenAPIObject;
}

describe('finishOpenApiDocument', () => {
  const doc = finishOpenApiDocument(raw()) as any;

  it('makes numbers integers unless they declare a format, and leaves examples alone', () => {
    const p = doc.components.schemas.Thing.properties;
    expect([p.bytes.type, p.maybe.type, p.percent.type, p.list.items.type]).toEqual(['integer', ['integer', 'null'], 'number', 'integer']);
    expect(p.example.example).toEqual({ type: 'number' });
    expect(doc.components.securitySchemes.bearer.bearerFormat).toBeUndefined();
  });

  it('marks public routes, and says the role of the others', () => {
    expect(doc.paths['/healthz'].get.security).toEqual([]);
    expect(doc.paths['/healthz'].get.responses['401']).toBeUndefined();
    expect(doc.paths['/things/{id}'].get.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/things/{id}'].patch.description).toContain('Required role: operator.');
  });

  it("lists every status an operation answers, from its own codes and its kind's", () => {
    const statuses = (op: any) => Object.keys(op.responses);
    // a viewer route: every token is at least a viewer, so no 403
    expect(statuses(doc.paths['/things/{id}'].get)).toEqual(['200', '400', '401', '404', '429', '500']);
    expect(statuses(doc.paths['/things/{id}'].patch)).toEqual(['200', '400', '401', '403', '413', '415', '429', '500', '503']);
    expect(doc.paths['/things/{id}'].patch.responses['503'].description).toContain('AUDIT_UNAVAILABLE');
    expect(doc.paths['/things/{id}'].patch.responses['415'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/Error' });
    expect(doc.components.schemas.Error.properties.error.properties.code.enum).toContain('CGROUP_NOT_FOUND');
  });

  it('refuses an operation that declares no role', () => {
    const bad = raw() as any;
    delete bad.paths['/things/{id}'].get['x-required-role'];
    expect(() => finishOpenApiDocument(bad)).toThrow(/neither @Allow nor @Public/);
  });
});

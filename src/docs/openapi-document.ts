import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { statusOf } from '../common/errors.js';
import { type ErrorCode, ErrorCodes } from '../kernel/errors.js';
import { AUDITED_EXTENSION, ERROR_CODES_EXTENSION, PUBLIC_EXTENSION, REQUIRED_ROLE_EXTENSION, ROLE_BY_ACTION_EXTENSION } from './openapi-extensions.js';

type Json = Record<string, unknown>;
type Operation = Json & { parameters?: Json[]; requestBody?: Json; responses: Record<string, Json>; description?: string; security?: unknown[] };

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** The OpenAPI 3.1 document of every REST route of `app`, as clients and validators can use it. */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const base = new DocumentBuilder()
    .setTitle('nsgate')
    .setDescription(
      'A guarded REST API over Linux cgroups, namespaces and the Docker Engine. GraphQL at /graphql (schema.graphql). ' +
        'Every error answers the Error schema, with a code from its enum; any route may also answer the transport errors ' +
        '408 REQUEST_TIMEOUT, 414 URI_TOO_LONG and 431 HEADERS_TOO_LARGE, and a method a path does not serve is 405 METHOD_NOT_ALLOWED with Allow.',
    )
    .setVersion('0.1.0')
    .setLicense('UNLICENSED', 'https://spdx.org/licenses/')
    .setOpenAPIVersion('3.1.0')
    .addServer('/', 'the nsgate that serves this document')
    .addServer('http://127.0.0.1:{port}', 'nsgate on this host (NSGATE_LISTEN)', { port: { default: '7070' } })
    .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'An opaque token made with `npm run token -- NAME ROLE` (not a JWT).' })
    .build();
  return finishOpenApiDocument(SwaggerModule.createDocument(app, base));
}

/**
 * Rules that make @nestjs/swagger's output true to what the routes answer, for every route
 * (including ones added later) without a hand-written list. (OpenAPI 3.1 itself is
 * @nestjs/swagger's: it writes `nullable: true` as `type: [T, "null"]` or
 * `anyOf: [{$ref}, {type: "null"}]`, which validators accept, where 3.0's `nullable` beside
 * `allOf: [$ref]` rejected the nulls real answers carry.)
 * - a number without a format is an integer (nsgate's numbers are bytes, µs, pids, counts); the few
 *   fractions declare `format: 'double'`;
 * - auth: `security: []` on @Public routes; `x-required-role` and a sentence in the description
 *   from @Allow;
 * - errors: every status a route can answer, with the Error schema, from its @ApiErrors codes and
 *   the codes every route of its kind answers (see errorCodesOf).
 */
export function finishOpenApiDocument(doc: OpenAPIObject): OpenAPIObject {
  const components = (doc.components ??= {});
  const schemas = (components.schemas ??= {}) as Record<string, Json>;
  schemas.Error = ERROR_SCHEMA;
  for (const schema of Object.values(schemas)) fixSchema(schema);
  // tokens are opaque (`npm run token`), not JWTs; DocumentBuilder always writes a bearerFormat
  delete (components.securitySchemes?.bearer as Json | undefined)?.bearerFormat;
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = (item as Record<string, Operation | undefined>)[method];
      if (!op) continue;
      for (const p of op.parameters ?? []) fixSchema(p);
      for (const response of Object.values(op.responses)) fixSchema(response);
      if (op.requestBody) fixSchema(op.requestBody);
      finishOperation(op, path);
    }
  }
  doc.tags = [...new Set(Object.values(doc.paths).flatMap((item) => METHODS.flatMap((m) => ((item as Record<string, Operation | undefined>)[m]?.tags as string[] | undefined) ?? [])))]
    .sort()
    .map((name) => ({ name, description: TAG_DESCRIPTIONS[name] ?? name }));
  return doc;
}

const TAG_DESCRIPTIONS: Record<string, string> = {
  audit: 'The audit log of every change and refusal',
  cgroups: 'cgroups: the tree, limits, usage and stats, moves, freeze, kill',
  containers: "The Docker Engine's containers and other runtimes', as the kernel sees them",
  docs: 'This document and a page that shows it (public: they describe routes, not the host)',
  events: 'Server-sent events',
  exec: 'Commands in namespaces, and sandboxes',
  health: 'Liveness and readiness (public)',
  host: 'The host: kernel, cgroup mode, LSMs, engine',
  metrics: 'Prometheus metrics',
  namespaces: 'Namespaces, as lsns lists them',
  processes: 'Processes from procfs',
  security: 'Seccomp, capabilities, LSM labels',
};

const ERROR_SCHEMA: Json = {
  type: 'object',
  description: 'The body of every error answer',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: {
        code: { type: 'string', enum: [...ErrorCodes], description: 'what went wrong, for programs; the status follows from it' },
        message: { type: 'string', description: 'what went wrong, for people' },
        details: { type: 'object', additionalProperties: true, description: 'facts a program can act on (the allowed methods, the invalid fields, ...)' },
      },
    },
  },
};

const REASON: Record<number, string> = {
  400: 'Bad request',
  401: 'No token, or an unknown token',
  403: 'Refused',
  404: 'Not found',
  409: 'Conflict',
  410: 'Gone',
  413: 'Body too large',
  415: 'The body is not JSON',
  422: 'Refused by the kernel or the engine',
  429: 'Too many requests',
  500: 'Internal error (details are in the service log only)',
  503: 'A dependency is unavailable',
};

/** The codes an operation can answer: its own (@ApiErrors) and those of every route of its kind. */
export function errorCodesOf(op: Operation): ErrorCode[] {
  const codes = new Set<ErrorCode>((op[ERROR_CODES_EXTENSION] as ErrorCode[] | undefined) ?? []);
  if (!op[PUBLIC_EXTENSION]) {
    codes.add('UNAUTHENTICATED');
    // the throttler counts every caller on every non-public route
    codes.add('RATE_LIMITED');
    if (op[REQUIRED_ROLE_EXTENSION] !== 'viewer' || op[ROLE_BY_ACTION_EXTENSION]) codes.add('FORBIDDEN');
  }
  // path and query parameters pass a pipe or a DTO that refuses what does not parse
  if ((op.parameters ?? []).some((p) => p.in === 'path' || p.in === 'query')) codes.add('VALIDATION_FAILED');
  if (op.requestBody) {
    codes.add('VALIDATION_FAILED');
    codes.add('PAYLOAD_TOO_LARGE');
    codes.add('UNSUPPORTED_MEDIA_TYPE');
  }
  // a change is written to the audit log first; a log that cannot take it refuses the change
  if (op[AUDITED_EXTENSION]) codes.add('AUDIT_UNAVAILABLE');
  codes.add('INTERNAL');
  return [...codes].sort();
}

function finishOperation(op: Operation, path: string): void {
  const role = op[REQUIRED_ROLE_EXTENSION] as string | undefined;
  const byAction = op[ROLE_BY_ACTION_EXTENSION] as Record<string, string> | undefined;
  if (op[PUBLIC_EXTENSION]) {
    op.security = [];
    op.description = sentence(op.description, 'Public: no token needed.');
  } else {
    if (!role) throw new Error(`${path}: an operation with neither @Allow nor @Public`);
    op.security = [{ bearer: [] }];
    const raised = byAction ? ` (${Object.entries(byAction).map(([action, r]) => `${action}: ${r}`).join(', ')})` : '';
    op.description = sentence(op.description, `Required role: ${role}${raised}.`);
  }
  const codes = errorCodesOf(op);
  op[ERROR_CODES_EXTENSION] = codes;
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(statusOf(code), [...(byStatus.get(statusOf(code)) ?? []), code]);
  for (const [status, list] of [...byStatus].sort(([a], [b]) => a - b)) {
    const existing = op.responses[String(status)];
    // a route that answers its own body at an error status (readyz's 503) keeps it
    if (existing?.content) continue;
    const description = [existing?.description, `${REASON[status] ?? 'Error'}: ${list.join(', ')}`].filter(Boolean).join('. ');
    op.responses[String(status)] = { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
  }
  op.responses = Object.fromEntries(Object.entries(op.responses).sort(([a], [b]) => a.localeCompare(b)));
}

function sentence(description: string | undefined, more: string): string {
  return description ? `${description}\n\n${more}` : more;
}

/** Values, not schemas: never rewritten. */
const DATA_KEYS = new Set(['example', 'examples', 'default', 'const', 'enum']);

/** In place, recursively: a number without a format is an integer (`type: "number"` or `["number", "null"]`). */
function fixSchema(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) fixSchema(item);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const schema = node as Json;
  for (const [key, value] of Object.entries(schema)) if (!DATA_KEYS.has(key) && !key.startsWith('x-')) fixSchema(value);
  if (schema.format !== undefined) return;
  if (schema.type === 'number') schema.type = 'integer';
  else if (Array.isArray(schema.type) && schema.type.includes('number')) schema.type = schema.type.map((t: unknown) => (t === 'number' ? 'integer' : t));
}

/** The committed openapi.json's form: two-space JSON and a final newline. */
export function openapiText(document: unknown): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}

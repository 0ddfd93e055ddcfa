import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { IncomingMessage } from 'node:http';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import { rewriteCgroupUrl } from './cgroups/cgroup-route.js';
import type { Config } from './config/config.js';
import { duplicateKeyError, findDuplicateKey } from './common/json-body.js';
import { clientErrorHandler, frameworkErrorReply } from './common/transport-errors.js';
import { DocsService } from './docs/docs.service.js';
import { buildOpenApiDocument } from './docs/openapi-document.js';
import { requestId } from './logging.js';
import { routeTableOf } from './common/route-table.js';
import fastifyEtag from '@fastify/etag';
import { MetricsService } from './metrics/metrics.service.js';

/** Builds the application (not listening yet); used by main.ts and by the tests. */
export async function createApp(config: Config, opts: { logs?: boolean } = {}): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    genReqId: (req: IncomingMessage) => requestId(req),
    requestIdHeader: false,
    routerOptions: { maxParamLength: 4096 },
    // a cgroup path's slashes, sent plain or percent-encoded, become one {path} segment
    rewriteUrl: (req: IncomingMessage) => rewriteCgroupUrl(req.url ?? '/'),
    // Errors raised before a route or a Nest filter runs get the one error shape too.
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => frameworkErrorReply(error, reply as never),
    clientErrorHandler,
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.register(config), adapter, {
    bufferLogs: true,
    abortOnError: false,
    // the JSON parser is ours (below): Fastify's, plus "an empty body is no body"
    bodyParser: false,
  });
  if (opts.logs !== false) app.useLogger(app.get(Logger));
  else app.useLogger(false);
  app.enableShutdownHooks();

  const fastify = app.getHttpAdapter().getInstance();
  // what each path serves, for 405 + Allow (GlobalExceptionFilter); HEAD comes with GET
  const routes = routeTableOf(fastify);
  fastify.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.add(method, route.url);
  });
  // ETag on every GET answer; If-None-Match → 304 (the hash of the body: nothing cached server-side)
  await app.register(fastifyEtag as never);
  // Fastify parses text/plain by default; every body nsgate takes is JSON: anything else is 415
  fastify.removeContentTypeParser('text/plain');
  // `curl -X POST -H 'content-type: application/json' .../-/freeze` sends no body: that is
  // "no body", not a 400. Anything else goes through Fastify's own (prototype-safe,
  // secure-json-parse) parser, then a key repeated in one object is refused (JSON.parse would
  // silently keep the last value).
  const jsonParser = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: config.bodyLimitBytes }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) return done(null, undefined);
    jsonParser(request, body as string, (err: Error | null, value?: unknown) => {
      if (err) return done(err, undefined);
      const dup = findDuplicateKey(body as string);
      if (dup) return done(duplicateKeyError(dup), undefined);
      done(null, value);
    });
  });
  const metrics = app.get(MetricsService);
  fastify.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  fastify.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  // built on the first GET /openapi.json or /docs, not here (see DocsService)
  app.get(DocsService).setDocumentFactory(() => buildOpenApiDocument(app));
  return app;
}

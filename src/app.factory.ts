import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { IncomingMessage } from 'node:http';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import type { Config } from './config/config.js';
import { DocsService } from './docs/docs.service.js';
import { requestId } from './logging.js';
import { MetricsService } from './metrics/metrics.service.js';

/** Builds the application (not listening yet); used by main.ts and by the tests. */
export async function createApp(config: Config, opts: { logs?: boolean } = {}): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    genReqId: (req: IncomingMessage) => requestId(req),
    requestIdHeader: false,
    routerOptions: { maxParamLength: 4096 },
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
  // `curl -X POST -H 'content-type: application/json' .../-/freeze` sends no body: that is
  // "no body", not a 400. Anything else goes through Fastify's own (prototype-safe) parser.
  const jsonParser = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: config.bodyLimitBytes }, (request, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) done(null, undefined);
    else jsonParser(request, body as string, done);
  });
  const metrics = app.get(MetricsService);
  fastify.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  fastify.addHook('onResponse', async (request, reply) => {
    metrics.observeRequest(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('nsgate')
      .setDescription('A guarded REST API over Linux cgroups, namespaces and the Docker Engine. GraphQL at /graphql (schema.graphql).')
      .setVersion('0.1.0')
      .addBearerAuth()
      .build(),
  );
  app.get(DocsService).setDocument(document);
  return app;
}

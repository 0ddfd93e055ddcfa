import type { Params } from 'nestjs-pino';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Config } from './config/config.js';

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/** The request id: the caller's X-Request-Id when it is sane, else a new UUID. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** JSON logs through pino; every line of a request carries its id (reqId). */
export function loggerOptions(config: Config): Params {
  return {
    pinoHttp: {
      level: config.logLevel,
      // Fastify made the id already (genReqId in main.ts); middie copies it to the raw request
      genReqId: (req) => (req as IncomingMessage & { id?: string }).id ?? requestId(req),
      redact: { paths: ['req.headers.authorization', 'req.headers.cookie'], censor: '***' },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
      serializers: {
        req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
      },
    },
    forRoutes: ['{*path}'],
  };
}

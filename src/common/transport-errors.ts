import type { Socket } from 'node:net';
import { STATUS_CODES } from 'node:http';
import { NsgateError } from '../kernel/errors.js';
import { errorBody, statusOf, toNsgateError } from './errors.js';

interface FrameworkReply {
  code(status: number): FrameworkReply;
  header(name: string, value: string): FrameworkReply;
  send(body: unknown): void;
}

/**
 * Fastify's router answers a malformed percent-encoding (FST_ERR_BAD_URL, 400) and an over-long
 * route parameter (FST_ERR_MAX_PARAM_LENGTH, 414) before any hook or Nest filter runs: the
 * `frameworkErrors` option, so those answers have the one error shape too.
 */
export function frameworkErrorReply(error: unknown, reply: FrameworkReply): void {
  const err = toNsgateError(error);
  const shaped = err.code === 'INTERNAL' ? new NsgateError('VALIDATION_FAILED', 'malformed request') : err;
  reply.code(statusOf(shaped.code)).header('content-type', 'application/json; charset=utf-8').send(errorBody(shaped));
}

/**
 * Errors Node's HTTP parser raises before Fastify has a request (Fastify's `clientErrorHandler`):
 * headers over Node's limit (16 KiB, request line included) are 431, a request that took too long
 * to arrive is 408, any other malformed request is 400; always the JSON error shape, then close.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let shaped: NsgateError;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    shaped = new NsgateError('HEADERS_TOO_LARGE', 'the request line and headers are larger than the server accepts (16 KiB)');
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    shaped = new NsgateError('REQUEST_TIMEOUT', 'the request did not arrive in time');
  } else {
    shaped = new NsgateError('VALIDATION_FAILED', 'malformed HTTP request', { parser: String(err.code ?? 'unknown') });
  }
  const status = statusOf(shaped.code);
  const body = JSON.stringify(errorBody(shaped));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
        'Content-Type: application/json; charset=utf-8\r\n' +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        'Connection: close\r\n\r\n' +
        body,
    );
  }
  socket.destroy();
}

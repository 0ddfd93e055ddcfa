import type { AddressInfo } from 'node:net';
import type { TestApp } from './app.js';

/**
 * Makes a test app listen on a free loopback port (WebSocket and streaming clients need a
 * real socket; supertest keeps working and uses it too). app.close() stops it.
 */
export async function listen(t: TestApp): Promise<{ port: number; http: string; ws: string }> {
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = t.app.getHttpServer().address() as AddressInfo;
  return { port, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` };
}

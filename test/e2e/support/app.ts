import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { createApp } from '../../../src/app.factory.js';
import { addToken } from '../../../src/auth/token-store.js';
import { loadConfig, type Config } from '../../../src/config/config.js';

export interface TestApp {
  app: NestFastifyApplication;
  config: Config;
  dataDir: string;
  tokens: { admin: string; operator: string; viewer: string };
  /** supertest agent on the app's server */
  http: () => ReturnType<typeof request>;
  /** a GraphQL POST as the given token; returns status and body */
  graphql: (query: string, token?: string, variables?: Record<string, unknown>) => Promise<{ status: number; body: GraphqlBody }>;
  close: () => Promise<void>;
}

export interface GraphqlBody {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: string; status?: number; details?: unknown } }[];
}

/**
 * The real application, in this process, on a temp state folder, with one token per role.
 * `env` overrides settings (e.g. DOCKER_HOST, NSGATE_MANAGED_CGROUPS).
 */
export async function startTestApp(env: Record<string, string> = {}, hooks: { beforeInit?: (app: NestFastifyApplication) => void } = {}): Promise<TestApp> {
  const dataDir = await mkdtemp(join(tmpdir(), 'nsgate-e2e-'));
  const config = loadConfig({ NSGATE_LOG_LEVEL: 'warn', ...process.env, NSGATE_DATA_DIR: dataDir, ...env });
  const app = await createApp(config, { logs: false });
  hooks.beforeInit?.(app);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  const admin = (await readFile(config.adminTokenFile, 'utf8')).trim();
  const operator = await addToken(config.tokensFile, 'ops', 'operator');
  const viewer = await addToken(config.tokensFile, 'grafana', 'viewer');
  // the running service reloads the tokens file within a second
  await waitFor(async () => (await request(app.getHttpServer()).get('/metrics').set('authorization', `Bearer ${viewer}`)).status !== 401);
  const http = () => request(app.getHttpServer());
  return {
    app,
    config,
    dataDir,
    tokens: { admin, operator, viewer },
    http,
    graphql: async (query, token, variables) => {
      const req = http().post('/graphql').set('content-type', 'application/json');
      if (token) req.set('authorization', `Bearer ${token}`);
      const res = await req.send({ query, variables });
      return { status: res.status, body: res.body as GraphqlBody };
    },
    close: async () => {
      await app.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export function bearer(token: string): [string, string] {
  return ['authorization', `Bearer ${token}`];
}

import { ConfigError, loadConfig, type Config } from './config/config.js';
import { Logger } from '@nestjs/common';
import { createApp } from './app.factory.js';
import { IdleGc } from './common/idle-gc.js';

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`nsgate: bad configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const app = await createApp(config);
  // memory comes back after load: one full collection once requests stop (src/common/idle-gc.ts)
  const idleGc = new IdleGc();
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onRequest', (_request, _reply, done) => {
    idleGc.requestStarted();
    done();
  });
  fastify.addHook('onResponse', (_request, _reply, done) => {
    idleGc.requestEnded();
    done();
  });
  fastify.addHook('onRequestAbort', (_request, done) => {
    idleGc.requestEnded();
    done();
  });
  await app.listen({ host: config.listen.host, port: config.listen.port });
  const host = config.listen.host.includes(':') ? `[${config.listen.host}]` : config.listen.host;
  new Logger('nsgate').log(`listening on http://${host}:${config.listen.port} (state in ${config.dataDir}, managing ${config.managedCgroups.join(', ')})`);
}

main().catch((err: unknown) => {
  process.stderr.write(`nsgate: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

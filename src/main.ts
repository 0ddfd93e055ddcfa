import { ConfigError, loadConfig, type Config } from './config/config.js';
import { createApp } from './app.factory.js';

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
  await app.listen({ host: config.listen.host, port: config.listen.port });
}

main().catch((err: unknown) => {
  process.stderr.write(`nsgate: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

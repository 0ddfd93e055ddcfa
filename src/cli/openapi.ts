import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../app.factory.js';
import { loadConfig } from '../config/config.js';
import { DocsService } from '../docs/docs.service.js';
import { openapiText } from '../docs/openapi-document.js';

/** Writes the code's OpenAPI document to openapi.json (or the path given), as GET /openapi.json serves it. */
async function main(): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'nsgate-openapi-'));
  try {
    const app = await createApp(loadConfig({ ...process.env, NSGATE_DATA_DIR: dataDir }), { logs: false });
    await app.init();
    const text = openapiText(app.get(DocsService).openapi());
    await app.close();
    const out = process.argv[2] ?? 'openapi.json';
    await writeFile(out, text);
    process.stderr.write(`wrote ${out}\n`);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`nsgate openapi: ${(err as Error).stack}\n`);
  process.exit(1);
});

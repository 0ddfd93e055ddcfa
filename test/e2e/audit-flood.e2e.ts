// Refused requests cannot push changes out of the audit log (issue 16, item 3): they go to their
// own file, without their body, at most NSGATE_AUDIT_REFUSALS_PER_MINUTE lines per address.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/audit/audit-entry.js';
import { addToken } from '../../src/auth/token-store.js';
import { loadConfig } from '../../src/config/config.js';
import { makeTestCgroup, type TestCgroup } from './support/cgroups.js';
import { startService, type RunningService } from './support/service.js';

const lines = (file: string): AuditEntry[] =>
  readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditEntry);

describe('a flood of refused requests', () => {
  let svc: RunningService | undefined;
  let root: TestCgroup | undefined;
  afterAll(async () => {
    await svc?.stop('SIGKILL');
    if (svc) rmSync(svc.dataDir, { recursive: true, force: true });
    root?.remove();
  });

  it('never rotates an authenticated change out, logs no bodies, and counts what it dropped', async () => {
    root = makeTestCgroup('audit-flood');
    // a 64 KiB log in 2 files: before, 50 fat refusals were enough to push a change out
    svc = await startService({
      NSGATE_MANAGED_CGROUPS: root.path,
      NSGATE_AUDIT_MAX_BYTES: '65536',
      NSGATE_AUDIT_MAX_FILES: '1',
      NSGATE_AUDIT_REFUSALS_PER_MINUTE: '20',
      DOCKER_HOST: 'unix:///nonexistent/nsgate-flood.sock',
    });
    const admin = readFileSync(join(svc.dataDir, 'admin.token'), 'utf8').trim();
    const viewer = await addToken(loadConfig({ NSGATE_DATA_DIR: svc.dataDir }).tokensFile, 'grafana', 'viewer');
    const url = `${svc.url}/v1/cgroups${root.path}/-/limits`;
    const patch = (headers: Record<string, string>, body: string) => fetch(url, { method: 'PATCH', headers: { 'content-type': 'application/json', ...headers }, body });
    const change = await patch({ authorization: `Bearer ${admin}`, 'x-request-id': 'the-change' }, '{"pids":{"max":77}}');
    expect(change.status).toBe(200);

    const fat = JSON.stringify(Object.fromEntries(Array.from({ length: 3500 }, (_, i) => [`k${i}`, 'vvvvvvv'])));
    expect(fat.length).toBeGreaterThan(60_000);
    const statuses: number[] = [];
    const floodStarted = performance.now();
    for (let batch = 0; batch < 10; batch++) {
      const sent = Array.from({ length: 20 }, (_, i) => patch(i % 2 ? {} : { authorization: `Bearer ${viewer}` }, fat).then((r) => r.status));
      statuses.push(...(await Promise.all(sent)));
    }
    const floodSeconds = (performance.now() - floodStarted) / 1000;
    expect(new Set(statuses)).toEqual(new Set([401, 403]));
    expect(readFileSync(join(root.dir('pids'), 'pids.max'), 'utf8').trim()).toBe('77');

    // the change is still there, in the log and through the API
    const audit = await fetch(`${svc.url}/v1/audit?limit=500`, { headers: { authorization: `Bearer ${admin}` } });
    const page = (await audit.json()) as { items: AuditEntry[]; skippedLines: number };
    expect(page.items.filter((e) => e.requestId === 'the-change').map((e) => e.stage)).toEqual(['completed', 'received']);
    expect(lines(join(svc.dataDir, 'audit.log')).every((e) => e.result !== 'denied')).toBe(true);
    const refused = lines(join(svc.dataDir, 'audit-refused.log'));
    expect(refused.every((e) => e.request === null && e.result === 'denied')).toBe(true);
    // 20 a minute from this address: a burst of 20, then one more per 3 s the flood lasted (a
    // loaded machine takes longer to send 200 requests)
    expect(refused.length).toBeLessThanOrEqual(20 + Math.ceil(floodSeconds / 3));
    expect(refused.length).toBeLessThan(200);
    expect(page.items.filter((e) => e.result === 'denied').length).toBe(refused.length);

    // a clean stop writes what was dropped as one counter line
    await svc.stop('SIGTERM');
    const counter = lines(join(svc.dataDir, 'audit-refused.log')).find((e) => e.action === 'audit.refusals.dropped');
    expect(counter).toMatchObject({ target: 'address:127.0.0.1', errorCode: 'RATE_LIMITED' });
    expect((counter!.after as { dropped: number }).dropped).toBe(200 - refused.length);
  });
});

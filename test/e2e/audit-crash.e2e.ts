import { readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTestCgroup, type TestCgroup } from './support/cgroups.js';
import { startService, type RunningService } from './support/service.js';

interface Line {
  requestId: string;
  stage: string;
  result: string;
  action: string;
}

/** One PATCH over a keep-alive agent; resolves with the status once the whole answer is in. */
function patch(agent: Agent, svc: RunningService, token: string, path: string, body: unknown, requestId: string): Promise<number> {
  const url = new URL(`${svc.url}/v1/cgroups${path}/-/limits`);
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      { agent, host: url.hostname, port: url.port, path: url.pathname, method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), 'x-request-id': requestId } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

describe('the audit log survives SIGKILL', () => {
  let svc: RunningService | undefined;
  let root: TestCgroup | undefined;
  afterAll(async () => {
    await svc?.stop('SIGKILL');
    if (svc) rmSync(svc.dataDir, { recursive: true, force: true });
    root?.remove();
  });

  it('holds every acknowledged mutation after the service is killed under a stream of them', async () => {
    root = makeTestCgroup('crash');
    const managed = root.path;
    svc = await startService({ NSGATE_MANAGED_CGROUPS: managed });
    const token = readFileSync(`${svc.dataDir}/admin.token`, 'utf8').trim();
    const path = `${managed}/target`;
    const created = await fetch(`${svc.url}/v1/cgroups${path}`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(created.status).toBe(200);

    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const acknowledged: string[] = [];
    let sent = 0;
    let stop = false;
    const worker = async (w: number) => {
      for (let i = 0; !stop && i < 500; i++) {
        const id = `crash-${w}-${i}`;
        sent++;
        try {
          const status = await patch(agent, svc!, token, path, { pids: { max: 100 + ((w * 500 + i) % 900) } }, id);
          if (status === 200) acknowledged.push(id);
        } catch {
          return; // the service died under this request: not acknowledged
        }
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    // kill mid-stream, once a good number of changes are acknowledged
    while (acknowledged.length < 150) await new Promise((r) => setTimeout(r, 5));
    svc.child.kill('SIGKILL');
    stop = true;
    await Promise.all(workers);
    agent.destroy();
    await svc.stop('SIGKILL');

    const lines = readFileSync(`${svc.dataDir}/audit.log`, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Line];
        } catch {
          return []; // a line torn by the kill
        }
      });
    const completed = new Set(lines.filter((l) => l.stage === 'completed' && l.result === 'ok').map((l) => l.requestId));
    const received = new Set(lines.filter((l) => l.stage === 'received').map((l) => l.requestId));
    const missing = acknowledged.filter((id) => !completed.has(id) || !received.has(id));
    console.log(`sent ${sent}, acknowledged ${acknowledged.length}, completed lines ${completed.size}, received lines ${received.size}`);
    expect(acknowledged.length).toBeGreaterThanOrEqual(150);
    expect(missing).toEqual([]);
    // requests cut off by the kill may have left only their "received" line: that is the trace
    expect(received.size).toBeGreaterThanOrEqual(completed.size);
  });
});

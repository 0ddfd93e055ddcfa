import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.js';

function capsh(mask: string): string[] {
  const out = execFileSync('capsh', [`--decode=${mask}`], { encoding: 'utf8' }).trim();
  const names = out.slice(out.indexOf('=') + 1);
  return names === '' ? [] : names.split(',');
}

describe('security routes', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => t?.close());

  it.each(['00000000a80425fb', '000001ffffffffff', '0', '0x20', 'ffffffffffffffff', '0000020000000001'])('decodes %s exactly as capsh does, on REST and GraphQL', async (mask) => {
    const rest = await t.http().get(`/v1/capabilities/decode?mask=${mask}`).set('authorization', `Bearer ${t.tokens.viewer}`);
    expect(rest.status).toBe(200);
    expect(rest.body.names).toEqual(capsh(mask.replace(/^0x/, '')));
    const gql = await t.graphql(`{ decodeCapabilities(mask: "${mask}") { hex names } }`, t.tokens.viewer);
    expect((gql.body.data!.decodeCapabilities as { names: string[] }).names).toEqual(rest.body.names);
  });

  it('refuses a mask that is not hex, with 400', async () => {
    const res = await t.http().get('/v1/capabilities/decode?mask=zz').set('authorization', `Bearer ${t.tokens.viewer}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('VALIDATION_FAILED');
  });

  it("reports what /proc says of a process with no_new_privs and no capabilities", async () => {
    const child = spawn('setpriv', ['--no-new-privs', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', 'sleep', '60'], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const res = await t.http().get(`/v1/processes/${child.pid}/security`).set('authorization', `Bearer ${t.tokens.viewer}`);
      expect(res.status).toBe(200);
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      expect(res.body.noNewPrivs).toBe(true);
      expect(res.body.capabilities.bounding).toEqual({ hex: '0000000000000000', names: [] });
      expect(res.body.capabilities.effective.hex).toBe(/CapEff:\s+(\w+)/.exec(status)![1]);
      expect(res.body.seccomp.mode).toBe(Number(/Seccomp:\s+(\d)/.exec(status)![1]));
      expect(res.body.lsm).toBeNull();
      expect(res.body.userNamespace.rootIsHostRoot).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('answers 404 for a pid that does not exist and 400 for one that is not a pid', async () => {
    const gone = await t.http().get('/v1/processes/4194304/security').set('authorization', `Bearer ${t.tokens.viewer}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('PROCESS_NOT_FOUND');
    for (const bad of ['0x10', '1e3', '-1', '0']) {
      const res = await t.http().get(`/v1/processes/${bad}/security`).set('authorization', `Bearer ${t.tokens.viewer}`);
      expect(res.status).toBe(400);
    }
  });
});

// The tutorial and container suites on a real cgroup v2 host with the Docker Engine (qemu, tcg):
// one boot of Debian's kernel with `nsgate.docker=1` and `swapaccount=1`, whose /init mounts the
// unified tree with nsdelegate and starts dockerd (vfs, no bridge, no iptables); the guest loads
// the test image (saved from the private engine), runs the built nsgate (dist/ and its
// production node_modules) on its defaults, and drives it over HTTP (test/vm/guest/docker-main.mjs
// and docker-cases.mjs). Each case the guest reports is one test here. Needs `npm run build`
// first (npm run test:vm does it) and the private engine for `docker save`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/vm/build-initramfs.mjs';
import { dockerLayer, modulesLayer } from '../../scripts/vm/docker-layers.mjs';
import { dockerCases } from './guest/docker-cases.mjs';
import { describeRun, runInVm, type VmCaseResult, type VmRunResult } from './run-in-vm.js';

const ENTRY = 'test/vm/guest/docker-main.mjs';
const GUEST_SCRIPTS = ['test/vm/guest/docker-main.mjs', 'test/vm/guest/docker-cases.mjs', 'test/vm/guest/protocol.mjs'];
const SETUP_CASES = [
  'the Docker Engine starts on the v2 host and loads the test image',
  'nsgate starts on its defaults, writes its admin token, and answers /readyz with the engine up',
];

const GUEST_TIMEOUT_MS = Number(process.env.NSGATE_VM_TIMEOUT_MS ?? 800_000);

let run: VmRunResult;

beforeAll(async () => {
  for (const f of ['dist/main.js', 'dist/native/nsgate-exec']) {
    if (!existsSync(join(repoRoot, f))) throw new Error(`${f} is missing: run npm run build (npm run test:vm does)`);
  }
  const started = Date.now();
  const layers = [modulesLayer(), dockerLayer()];
  const layersMs = Date.now() - started;
  run = await runInVm({
    entry: ENTRY,
    // The exec helper is found from the nearest package.json above dist/: /app/package.json.
    files: [...GUEST_SCRIPTS, 'dist'],
    layers,
    kernelArgs: ['swapaccount=1', 'nsgate.docker=1'],
    memoryMb: 2048,
    smp: 2,
    // Under tcg on a loaded machine the guest needs minutes (README: timings); the hook waits longer.
    timeoutMs: GUEST_TIMEOUT_MS,
  });
  run.timings.layersMs = layersMs;
}, GUEST_TIMEOUT_MS + 120_000);

afterAll(() => {
  if (!run) return;
  console.log(`vm timings: ${JSON.stringify(run.timings)} log: ${run.logFile}\n${run.cases.map((c) => JSON.stringify(c)).join('\n')}`);
});

function reported(suite: string, name: string): VmCaseResult | undefined {
  return run.cases.find((c) => c.suite === suite && c.case === name);
}

function caseTests(suite: string, names: string[]): void {
  for (const name of names) {
    it(name, () => {
      const result = reported(suite, name);
      expect(result, `the guest did not report this case\n${describeRun(run)}`).toBeDefined();
      expect(result!.ok, `${name}: ${result!.error}\n${JSON.stringify(result)}\nlog: ${run.logFile}`).toBe(true);
    });
  }
}

describe('a cgroup v2 host with the Docker Engine, nsgate inside (qemu)', () => {
  it('the guest ran every case to the end', () => {
    expect(run.rc, describeRun(run)).not.toBeNull();
    const expected = [...SETUP_CASES.map((n) => `setup: ${n}`), ...dockerCases.map((c) => `docker: ${c.name}`)];
    const got = new Set(run.cases.filter((c) => c.suite !== 'timings').map((c) => `${c.suite}: ${c.case}`));
    expect(expected.filter((n) => !got.has(n)), describeRun(run)).toEqual([]);
    expect([...got].filter((n) => !expected.includes(n)), describeRun(run)).toEqual([]);
  });

  describe('setup', () => caseTests('setup', SETUP_CASES));

  describe('the tutorial and container suites', () => caseTests('docker', dockerCases.map((c) => c.name)));
});

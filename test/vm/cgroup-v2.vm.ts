// cgroup v2 on a real kernel with every controller (qemu, tcg): one VM boot runs
//   - kernel: plain-fs checks of the v2 files (test/vm/guest/kernel-cases.mjs);
//   - driver: nsgate's CgroupSystem, with the v2-only cases (test/vm/guest/v2-host-cases.mjs,
//     exec into a process in its own cgroup namespace among them: the built helper goes along)
//     and the shared vocabulary cases (test/shared/cgroup-driver-cases.ts, compiled for the guest).
// Each case the guest reports is one test here.
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/vm/build-initramfs.mjs';
import { HELPER_RELATIVE_PATH } from '../../src/kernel/exec/helper.js';
import { cgroupDriverCases } from '../shared/cgroup-driver-cases.js';
import { compileForGuest } from './compile-guest.js';
import { cases as kernelCases } from './guest/kernel-cases.mjs';
import { GUEST_MODULE_ORDER, v2HostCases } from './guest/v2-host-cases.mjs';
import { guestModules } from './kernel-modules.js';
import { describeRun, prepareKernel, runInVm, type VmCaseResult, type VmRunResult } from './run-in-vm.js';

const ENTRY = 'test/vm/guest/main.mjs';
const GUEST_SCRIPTS = ['test/vm/guest/main.mjs', 'test/vm/guest/protocol.mjs', 'test/vm/guest/kernel-cases.mjs', 'test/vm/guest/v2-host-cases.mjs'];

let run: VmRunResult;

beforeAll(async () => {
  const compiled = await compileForGuest(['src/kernel/cgroups/index.ts', 'src/kernel/exec/index.ts', 'test/shared/cgroup-driver-cases.ts']);
  // The exec cases run the host-built helper (npm run build makes it), where nsgate looks for it.
  const helper = { src: path.join(repoRoot, HELPER_RELATIVE_PATH), dest: HELPER_RELATIVE_PATH, mode: 0o755 };
  // busybox's unshare has no -C (cgroup namespace): util-linux's, which needs only libc (in the base layer).
  const unshare = { src: '/usr/bin/unshare', dest: 'vm-tools/unshare', mode: 0o755 };
  // ext2 on a loop device: the only page cache the kernel can drop in a guest without a disk.
  const modules = guestModules(await prepareKernel(), GUEST_MODULE_ORDER);
  run = await runInVm({ entry: ENTRY, files: [...GUEST_SCRIPTS, ...compiled.files, helper, unshare, ...modules] });
  run.timings.compileMs = compiled.ms;
});

afterAll(() => {
  if (!run) return;
  const lines = run.cases.map((c) => JSON.stringify(c));
  console.log(`vm timings: ${JSON.stringify(run.timings)} log: ${run.logFile}\n${lines.join('\n')}`);
});

function reported(suite: string, name: string): VmCaseResult | undefined {
  return run.cases.find((c) => c.suite === suite && c.case === name);
}

function caseTests(suite: string, names: string[]): void {
  for (const name of names) {
    it(name, () => {
      const result = reported(suite, name);
      expect(result, `the guest did not report this case\n${describeRun(run)}`).toBeDefined();
      expect(result!.ok, `${name}: ${result!.error}\n${JSON.stringify(result)}`).toBe(true);
    });
  }
}

describe('cgroup v2 on a real kernel (qemu)', () => {
  it('the guest ran every case to the end', () => {
    expect(run.rc, describeRun(run)).not.toBeNull();
    const expected = [
      ...kernelCases.map((c) => `kernel: ${c.name}`),
      ...[...v2HostCases, ...cgroupDriverCases].map((c) => `driver: ${c.name}`),
    ];
    const got = new Set(run.cases.map((c) => `${c.suite}: ${c.case}`));
    expect(expected.filter((n) => !got.has(n)), describeRun(run)).toEqual([]);
    const unexpected = [...got].filter((n) => !expected.includes(n));
    expect(unexpected, describeRun(run)).toEqual([]);
  });

  describe('kernel files (plain fs)', () => caseTests('kernel', kernelCases.map((c) => c.name)));

  describe('driver on v2 (v2-only cases)', () => caseTests('driver', v2HostCases.map((c) => c.name)));

  describe('driver on v2 (shared vocabulary cases)', () => caseTests('driver', cgroupDriverCases.map((c) => c.name)));
});

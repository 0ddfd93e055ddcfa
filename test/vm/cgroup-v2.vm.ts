// The cgroup v2 checks of test/vm/guest/cgroup-v2.mjs, run inside a real cgroup v2 kernel
// with every controller (qemu, tcg). One VM boot runs all cases; each case is one test here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cases } from './guest/cgroup-v2.mjs';
import { describeRun, runInVm, type VmRunResult } from './run-in-vm.js';

describe('cgroup v2 on a real kernel (qemu)', () => {
  let run: VmRunResult;

  beforeAll(async () => {
    run = await runInVm({
      entry: 'test/vm/guest/cgroup-v2.mjs',
      files: ['test/vm/guest/cgroup-v2.mjs'],
    });
  });

  afterAll(() => {
    if (!run) return;
    const details = run.cases.map((c) => ({ ...c }));
    console.log(`vm timings: ${JSON.stringify(run.timings)}\n${details.map((d) => JSON.stringify(d)).join('\n')}`);
  });

  it('the guest ran every case to the end', () => {
    expect(run.rc, describeRun(run)).not.toBeNull();
    const reported = new Set(run.cases.map((c) => c.case));
    const unreported = cases.map((c) => c.name).filter((n) => !reported.has(n));
    expect(unreported, describeRun(run)).toEqual([]);
  });

  for (const c of cases) {
    it(c.name, () => {
      const result = run.cases.find((r) => r.case === c.name);
      expect(result, `the guest did not report this case\n${describeRun(run)}`).toBeDefined();
      expect(result!.ok, `${c.name}: ${result!.error}\n${JSON.stringify(result)}`).toBe(true);
    });
  }
});

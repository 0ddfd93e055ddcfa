// The Vitest side shared by the VM test files: one test per case a guest reports, a check that it
// reported exactly the expected cases, and its timings and cases printed once it is done.
import { afterAll, expect, it } from 'vitest';
import { describeRun, type VmRunResult } from './run-in-vm.js';

/** `run` is read when the tests run (a beforeAll sets it). */
export function guestReport(run: () => VmRunResult | undefined) {
  afterAll(() => {
    const r = run();
    if (!r) return;
    console.log(`vm timings: ${JSON.stringify(r.timings)} log: ${r.logFile}\n${r.cases.map((c) => JSON.stringify(c)).join('\n')}`);
  });
  const done = (): VmRunResult => {
    const r = run();
    if (!r) throw new Error('the guest never ran (see the beforeAll error)');
    return r;
  };
  return {
    /** One test per case name of `suite`: reported, and ok. */
    caseTests(suite: string, names: string[]): void {
      for (const name of names) {
        it(name, () => {
          const r = done();
          const result = r.cases.find((c) => c.suite === suite && c.case === name);
          expect(result, `the guest did not report this case\n${describeRun(r)}`).toBeDefined();
          expect(result!.ok, `${name}: ${result!.error}\n${JSON.stringify(result)}\nlog: ${r.logFile}`).toBe(true);
        });
      }
    },
    /** The guest ran to the end and reported exactly `expected` (as "suite: case"); `timings` lines aside. */
    everyCase(expected: string[]): void {
      it('the guest ran every case to the end', () => {
        const r = done();
        expect(r.rc, describeRun(r)).not.toBeNull();
        const got = new Set(r.cases.filter((c) => c.suite !== 'timings').map((c) => `${c.suite}: ${c.case}`));
        expect(expected.filter((n) => !got.has(n)), describeRun(r)).toEqual([]);
        expect([...got].filter((n) => !expected.includes(n)), describeRun(r)).toEqual([]);
      });
    },
  };
}

import { describe, expect, it } from 'vitest';
import { SharedScan } from '../../../src/kernel/scan/shared-scan.js';

/** A scan function whose runs the test finishes by hand, on a clock the test moves. */
function harness() {
  let clock = 0;
  const runs: Array<{ startedAt: number; finish: (value?: string) => void; fail: (err: Error) => void }> = [];
  const shared = new SharedScan<string>(
    () =>
      new Promise<string>((resolve, reject) => {
        const startedAt = clock;
        runs.push({ startedAt, finish: (value) => resolve(value ?? `scan@${startedAt}`), fail: reject });
      }),
    () => clock,
  );
  return {
    shared,
    runs,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe('SharedScan', () => {
  it('shares one scan between callers that ask together', async () => {
    const { shared, runs } = harness();
    const a = shared.get();
    const b = shared.get();
    await turn();
    expect(runs).toHaveLength(1);
    runs[0]!.finish();
    expect(await a).toBe('scan@0');
    expect(await b).toBe('scan@0');
  });

  it('never hands out a scan that started before the caller asked: latecomers share the next one', async () => {
    const { shared, runs, advance } = harness();
    const first = shared.get();
    await turn();
    advance(10);
    const late1 = shared.get();
    const late2 = shared.get();
    await turn();
    expect(runs).toHaveLength(1); // the queued scan waits for the running one
    runs[0]!.finish();
    expect(await first).toBe('scan@0');
    await turn();
    expect(runs).toHaveLength(2);
    expect(runs[1]!.startedAt).toBe(10);
    runs[1]!.finish();
    expect(await late1).toBe('scan@10');
    expect(await late2).toBe('scan@10');
  });

  it('serves a cached result or a running scan when maxAgeMs allows, and scans again when not', async () => {
    const { shared, runs, advance } = harness();
    const first = shared.get();
    await turn();
    runs[0]!.finish();
    await first;
    advance(500);
    expect(await shared.get(1000)).toBe('scan@0');
    expect(runs).toHaveLength(1);

    const fresh = shared.get(100);
    await turn();
    expect(runs).toHaveLength(2);
    advance(50);
    const joined = shared.get(100); // the running scan started 50 ms ago: fresh enough
    const strict = shared.get(); // without maxAgeMs: the next scan
    runs[1]!.finish();
    expect(await fresh).toBe('scan@500');
    expect(await joined).toBe('scan@500');
    await turn();
    expect(runs).toHaveLength(3);
    runs[2]!.finish();
    expect(await strict).toBe('scan@550');
    expect(shared.peek()).toBe('scan@550');
  });

  it('rejects the callers of a failed scan and still runs the queued one', async () => {
    const { shared, runs } = harness();
    const failing = shared.get();
    await turn();
    const queued = shared.get();
    runs[0]!.fail(new Error('boom'));
    await expect(failing).rejects.toThrow('boom');
    await turn();
    runs[1]!.finish('ok');
    expect(await queued).toBe('ok');
  });

  it('turns a scan function that throws synchronously into a rejection', async () => {
    const shared = new SharedScan<string>(() => {
      throw new Error('sync');
    });
    await expect(shared.get()).rejects.toThrow('sync');
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type OomKill, type OomTarget, OomWatch } from '../../../src/events/oom-watch.js';

describe('OomWatch', () => {
  let counters: Map<string, number | null>;
  let kills: OomKill[];
  let listed: { managed: OomTarget[]; containers: OomTarget[] | Error };
  let watch: OomWatch;

  beforeEach(() => {
    vi.useFakeTimers();
    counters = new Map();
    kills = [];
    listed = { managed: [], containers: [] };
    watch = new OomWatch({
      readCounter: (path) => counters.get(path) ?? null,
      sources: [
        { name: 'managed', list: async () => listed.managed },
        {
          name: 'containers',
          list: async () => {
            if (listed.containers instanceof Error) throw listed.containers;
            return listed.containers;
          },
        },
      ],
      onKill: (k) => kills.push(k),
      intervalMs: 1000,
      refreshEvery: 3,
    });
  });
  afterEach(() => {
    watch.stop();
    vi.useRealTimers();
  });

  it('reports increases only, counting cgroups that were there at the start from their current value', async () => {
    counters.set('/nsgate', 2);
    listed.managed = [{ path: '/nsgate' }];
    await watch.start();
    await vi.advanceTimersByTimeAsync(1000);
    expect(kills).toEqual([]);
    counters.set('/nsgate', 5);
    await vi.advanceTimersByTimeAsync(1000);
    expect(kills).toEqual([{ path: '/nsgate', kills: 3, total: 5 }]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(kills).toHaveLength(1);
  });

  it('counts a cgroup that appears later from zero, so a kill before the first reading is not lost', async () => {
    await watch.start();
    counters.set('/nsgate/new', 1);
    listed.managed = [{ path: '/nsgate/new' }];
    await vi.advanceTimersByTimeAsync(3000); // the third poll lists the sources again
    expect(kills).toEqual([{ path: '/nsgate/new', kills: 1, total: 1 }]);
  });

  it('treats a container started after the watch as new, and one added by hand as new when asked', async () => {
    const startedAt = Date.now();
    listed.containers = [{ path: '/docker/a', containerId: 'a', createdAt: startedAt + 10 }];
    counters.set('/docker/a', 1);
    vi.setSystemTime(startedAt);
    await watch.start();
    expect(kills).toEqual([{ path: '/docker/a', containerId: 'a', createdAt: startedAt + 10, kills: 1, total: 1 }]);
    counters.set('/docker/b', 1);
    watch.add({ path: '/docker/b', containerId: 'b' }, 'containers', true);
    expect(kills.at(-1)).toMatchObject({ path: '/docker/b', kills: 1 });
  });

  it('keeps what a failing source had, and reads one cgroup on demand', async () => {
    counters.set('/docker/a', 0);
    listed.containers = [{ path: '/docker/a', containerId: 'a' }];
    await watch.start();
    listed.containers = new Error('engine down');
    await vi.advanceTimersByTimeAsync(3000);
    expect(watch.paths()).toEqual(['/docker/a']);
    counters.set('/docker/a', 1);
    watch.pollNow('/docker/a');
    expect(kills).toEqual([{ path: '/docker/a', containerId: 'a', kills: 1, total: 1 }]);
    // a removed cgroup gets a last reading first
    counters.set('/docker/a', 2);
    watch.remove('/docker/a');
    expect(kills.at(-1)).toMatchObject({ kills: 1, total: 2 });
    expect(watch.paths()).toEqual([]);
  });

  it('does not drop a cgroup added while a listing that predates it was running', async () => {
    await watch.start();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    listed.containers = [];
    const sources = (watch as unknown as { options: { sources: { name: string; list: () => Promise<OomTarget[]> }[] } }).options.sources;
    const plain = sources[1]!.list;
    sources[1]!.list = async () => {
      const result = await plain();
      await gate;
      return result;
    };
    const refreshing = watch.refresh();
    counters.set('/docker/new', 0);
    watch.add({ path: '/docker/new', containerId: 'new' }, 'containers', true);
    release();
    await refreshing;
    expect(watch.paths()).toContain('/docker/new');
  });

  it('polls only between start and stop', async () => {
    counters.set('/nsgate', 0);
    listed.managed = [{ path: '/nsgate' }];
    await watch.start();
    watch.stop();
    counters.set('/nsgate', 4);
    await vi.advanceTimersByTimeAsync(5000);
    expect(kills).toEqual([]);
    expect(watch.running).toBe(false);
    watch.add({ path: '/nsgate' }, 'managed', true);
    expect(watch.paths()).toEqual([]);
  });
});

// Kernel facts, checked inside the VM with plain fs calls (never through nsgate's code): every
// cgroup v2 operation the driver relies on, on a real kernel with all controllers. Each case's
// run(detail) fills `detail` with what it saw. main.mjs runs them; the host imports `cases`
// only for their names.
//
// Each case gets its own cgroup under /sys/fs/cgroup/nsgate/, so one failure does not
// cascade, and removes it afterwards.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = process.env.NSGATE_CGROUP_ROOT ?? '/sys/fs/cgroup';
const PARENT = path.join(ROOT, 'nsgate');
export const CONTROLLERS = ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'];

const read = (file) => fs.readFileSync(file, 'utf8').trim();
// An empty string would make no write(2) at all, so the kernel would never see it: an empty
// value ("clear cpuset.cpus") is written as a newline, which the kernel strips.
const write = (file, value) => fs.writeFileSync(file, String(value) === '' ? '\n' : String(value));
const sleepMs = (ms) => new Promise((r) => setTimeout(r, ms));

function expectEqual(actual, expected, what) {
  if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

/** Parses flat-keyed files such as cgroup.events, memory.events, pids.events. */
function keyed(file) {
  return Object.fromEntries(
    read(file)
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [k, v] = l.split(/\s+/);
        return [k, Number(v)];
      }),
  );
}

async function waitFor(what, cond, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleepMs(20);
  }
}

function ensureParent() {
  if (!fs.existsSync(PARENT)) fs.mkdirSync(PARENT);
  const enabled = read(path.join(PARENT, 'cgroup.subtree_control')).split(/\s+/).filter(Boolean);
  const missing = CONTROLLERS.filter((c) => !enabled.includes(c));
  if (missing.length) write(path.join(PARENT, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
}

/**
 * Shell prefix that spins (builtins only, so no fork) until the shell has been moved out of
 * the root cgroup: what follows it runs inside the test's cgroup, however slow the move.
 */
const AFTER_MOVE = 'while read l < /proc/$$/cgroup; [ "$l" = "0::/" ]; do :; done; ';

/** A busybox process started in `cgroupDir` (moved in right after spawn). */
async function startIn(cgroupDir, argv) {
  const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  write(path.join(cgroupDir, 'cgroup.procs'), child.pid);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, pid: child.pid, exited };
}

/** Kills and removes a test cgroup, whatever state it is in. */
async function removeCgroup(dir) {
  if (!fs.existsSync(dir)) return;
  try {
    write(path.join(dir, 'cgroup.freeze'), 0);
  } catch {
    // best effort
  }
  try {
    write(path.join(dir, 'cgroup.kill'), 1);
  } catch {
    // best effort
  }
  await waitFor(`${dir} to empty`, () => keyed(path.join(dir, 'cgroup.events')).populated === 0).catch(() => {});
  fs.rmdirSync(dir);
}

/** Runs `body` with a fresh cgroup nsgate/<name> and removes it afterwards. */
function withCgroup(name, body) {
  return async (detail) => {
    ensureParent();
    const dir = path.join(PARENT, name);
    if (fs.existsSync(dir)) await removeCgroup(dir);
    fs.mkdirSync(dir);
    try {
      await body(dir, detail);
    } finally {
      await removeCgroup(dir);
    }
  };
}

/** Writes `value` to `file` in `dir` and returns what the kernel reads back. */
function roundTrip(dir, file, value) {
  write(path.join(dir, file), value);
  return read(path.join(dir, file));
}

export const cases = [
  {
    name: 'cgroup2 is mounted at the root with nsdelegate, as systemd does',
    run: async (detail) => {
      const line = read('/proc/self/mountinfo')
        .split('\n')
        .find((l) => l.split(' ')[4] === ROOT);
      expect(line, `no mount at ${ROOT}`);
      expect(line.includes(' - cgroup2 '), `not cgroup2: ${line}`);
      detail.mountinfo = line;
      expectEqual(read('/proc/self/cgroup'), '0::/', '/proc/self/cgroup');
    },
  },
  {
    name: 'the root lists every controller',
    run: async (detail) => {
      const got = read(path.join(ROOT, 'cgroup.controllers')).split(/\s+/);
      detail.controllers = got.join(' ');
      const missing = CONTROLLERS.filter((c) => !got.includes(c));
      expect(missing.length === 0, `missing controllers: ${missing.join(' ')}`);
    },
  },
  {
    name: 'every controller is enabled for the children (subtree_control)',
    run: async (detail) => {
      ensureParent();
      const got = read(path.join(PARENT, 'cgroup.controllers')).split(/\s+/);
      detail.childControllers = got.join(' ');
      const missing = CONTROLLERS.filter((c) => !got.includes(c));
      expect(missing.length === 0, `not delegated to nsgate/: ${missing.join(' ')}`);
    },
  },
  {
    name: 'a new cgroup has the interface files of every controller',
    run: withCgroup('files', async (dir) => {
      const files = [
        'cgroup.procs', 'cgroup.freeze', 'cgroup.kill', 'cgroup.events', 'cgroup.stat',
        'cpu.max', 'cpu.weight', 'cpu.stat', 'cpu.pressure',
        'cpuset.cpus', 'cpuset.mems', 'cpuset.cpus.effective',
        'io.max', 'io.weight', 'io.stat', 'io.pressure',
        'memory.max', 'memory.high', 'memory.low', 'memory.min', 'memory.swap.max',
        'memory.current', 'memory.stat', 'memory.events', 'memory.pressure',
        'pids.max', 'pids.current', 'pids.events',
        'rdma.max', 'misc.max', 'hugetlb.2MB.max',
      ];
      const missing = files.filter((f) => !fs.existsSync(path.join(dir, f)));
      expect(missing.length === 0, `missing: ${missing.join(' ')}`);
    }),
  },
  {
    name: 'memory.max 8000000 reads back rounded down to a page (7999488)',
    run: withCgroup('memory-max', async (dir, detail) => {
      expectEqual(read(path.join(dir, 'memory.max')), 'max', 'initial memory.max');
      const got = roundTrip(dir, 'memory.max', 8000000);
      detail.readBack = got;
      expectEqual(got, '7999488', 'memory.max read-back');
      expectEqual(roundTrip(dir, 'memory.max', 'max'), 'max', 'memory.max reset');
    }),
  },
  {
    name: 'memory.high, memory.low, memory.min and memory.swap.max round-trip',
    run: withCgroup('memory-other', async (dir, detail) => {
      detail.high = roundTrip(dir, 'memory.high', 16 * 1024 * 1024);
      expectEqual(detail.high, String(16 * 1024 * 1024), 'memory.high');
      detail.low = roundTrip(dir, 'memory.low', 4 * 1024 * 1024);
      expectEqual(detail.low, String(4 * 1024 * 1024), 'memory.low');
      detail.min = roundTrip(dir, 'memory.min', 1024 * 1024);
      expectEqual(detail.min, String(1024 * 1024), 'memory.min');
      detail.swapMax = roundTrip(dir, 'memory.swap.max', 0);
      expectEqual(detail.swapMax, '0', 'memory.swap.max');
      detail.swapMaxOdd = roundTrip(dir, 'memory.swap.max', 8000000);
      expectEqual(roundTrip(dir, 'memory.high', 'max'), 'max', 'memory.high reset');
    }),
  },
  {
    name: 'memory.max is enforced: a 32 MiB allocation in an 8 MB cgroup is OOM-killed',
    run: withCgroup('memory-oom', async (dir, detail) => {
      write(path.join(dir, 'memory.max'), 8000000);
      write(path.join(dir, 'memory.swap.max'), 0);
      // busybox dd allocates its bs-sized buffer and fills it from /dev/zero.
      const p = await startIn(dir, ['/bin/sh', '-c', `${AFTER_MOVE}exec dd if=/dev/zero of=/dev/null bs=32M count=4`]);
      const exit = await p.exited;
      detail.exit = exit;
      const events = keyed(path.join(dir, 'memory.events'));
      detail.memoryEvents = events;
      expectEqual(exit.signal, 'SIGKILL', 'dd exit signal');
      expect(events.oom_kill >= 1, `memory.events oom_kill is ${events.oom_kill}`);
      expect(events.max >= 1, `memory.events max is ${events.max}`);
    }),
  },
  {
    name: 'cpu.max and cpu.weight round-trip',
    run: withCgroup('cpu', async (dir, detail) => {
      expectEqual(read(path.join(dir, 'cpu.max')), 'max 100000', 'initial cpu.max');
      detail.max = roundTrip(dir, 'cpu.max', '50000 100000');
      expectEqual(detail.max, '50000 100000', 'cpu.max');
      // Writing only the quota keeps the period.
      expectEqual(roundTrip(dir, 'cpu.max', '25000'), '25000 100000', 'cpu.max quota only');
      expectEqual(roundTrip(dir, 'cpu.max', 'max'), 'max 100000', 'cpu.max reset');
      expectEqual(roundTrip(dir, 'cpu.weight', 200), '200', 'cpu.weight');
      const stat = keyed(path.join(dir, 'cpu.stat'));
      detail.cpuStatKeys = Object.keys(stat).join(' ');
      expect('usage_usec' in stat && 'nr_throttled' in stat, 'cpu.stat lacks usage_usec / nr_throttled');
    }),
  },
  {
    name: 'pids.max round-trips and is enforced',
    run: withCgroup('pids', async (dir, detail) => {
      expectEqual(read(path.join(dir, 'pids.max')), 'max', 'initial pids.max');
      expectEqual(roundTrip(dir, 'pids.max', 10), '10', 'pids.max');
      write(path.join(dir, 'pids.max'), 1);
      // The shell is the one allowed task; its fork for the subshell must fail.
      const p = await startIn(dir, ['/bin/sh', '-c', `${AFTER_MOVE}(true); echo forked`]);
      const exit = await p.exited;
      detail.exit = exit;
      const events = keyed(path.join(dir, 'pids.events'));
      detail.pidsEvents = events;
      expect(events.max >= 1, `pids.events max is ${events.max}`);
    }),
  },
  {
    name: 'cpuset.cpus and cpuset.mems round-trip',
    run: withCgroup('cpuset', async (dir, detail) => {
      const all = read(path.join(ROOT, 'cpuset.cpus.effective'));
      detail.rootCpus = all;
      expectEqual(roundTrip(dir, 'cpuset.cpus', '0'), '0', 'cpuset.cpus');
      expectEqual(read(path.join(dir, 'cpuset.cpus.effective')), '0', 'cpuset.cpus.effective');
      expectEqual(roundTrip(dir, 'cpuset.mems', '0'), '0', 'cpuset.mems');
      expectEqual(roundTrip(dir, 'cpuset.cpus', ''), '', 'cpuset.cpus cleared');
      expectEqual(read(path.join(dir, 'cpuset.cpus.effective')), all, 'effective after clearing');
    }),
  },
  {
    name: 'io.max and io.weight accept writes',
    run: withCgroup('io', async (dir, detail) => {
      expectEqual(roundTrip(dir, 'io.weight', 'default 300'), 'default 300', 'io.weight');
      // No block device in the VM: io.max has no lines to show and refuses an unknown device.
      detail.ioMax = read(path.join(dir, 'io.max'));
      let err = null;
      try {
        write(path.join(dir, 'io.max'), '254:0 rbps=1048576');
      } catch (e) {
        err = e.code;
      }
      detail.ioMaxUnknownDevice = err;
    }),
  },
  {
    name: 'a busybox sleep moves in: cgroup.procs and /proc/PID/cgroup agree',
    run: withCgroup('move', async (dir, detail) => {
      const p = await startIn(dir, ['/bin/sleep', '1000']);
      detail.pid = p.pid;
      expect(read(path.join(dir, 'cgroup.procs')).split('\n').includes(String(p.pid)), 'pid not in cgroup.procs');
      expectEqual(read(`/proc/${p.pid}/cgroup`), '0::/nsgate/move', `/proc/${p.pid}/cgroup`);
      expectEqual(keyed(path.join(dir, 'cgroup.events')).populated, 1, 'populated');
      expectEqual(read(path.join(dir, 'pids.current')), '1', 'pids.current');
      // v2 does not move memory charges with a process: what sleep allocated before the
      // move stays charged to the root, so memory.current may well be 0 here.
      detail.memoryCurrentAfterMove = Number(read(path.join(dir, 'memory.current')));
      // Moving it back out (to the parent's sibling) works too.
      fs.mkdirSync(path.join(PARENT, 'move-out'));
      try {
        write(path.join(PARENT, 'move-out', 'cgroup.procs'), p.pid);
        expectEqual(read(`/proc/${p.pid}/cgroup`), '0::/nsgate/move-out', 'after moving out');
        process.kill(p.pid, 'SIGKILL');
        await p.exited;
      } finally {
        await removeCgroup(path.join(PARENT, 'move-out'));
      }
    }),
  },
  {
    name: 'cgroup.freeze 1 reports frozen 1 in cgroup.events, 0 thaws',
    run: withCgroup('freeze', async (dir, detail) => {
      const p = await startIn(dir, ['/bin/sleep', '1000']);
      write(path.join(dir, 'cgroup.freeze'), 1);
      await waitFor('frozen 1', () => keyed(path.join(dir, 'cgroup.events')).frozen === 1);
      detail.frozenEvents = read(path.join(dir, 'cgroup.events')).replace(/\n/g, ', ');
      write(path.join(dir, 'cgroup.freeze'), 0);
      await waitFor('frozen 0', () => keyed(path.join(dir, 'cgroup.events')).frozen === 0);
      process.kill(p.pid, 'SIGKILL');
      await p.exited;
    }),
  },
  {
    name: 'cgroup.kill kills every process and the cgroup empties',
    run: withCgroup('kill', async (dir, detail) => {
      const a = await startIn(dir, ['/bin/sleep', '1000']);
      const b = await startIn(dir, ['/bin/sleep', '1000']);
      write(path.join(dir, 'cgroup.kill'), 1);
      const [ea, eb] = await Promise.all([a.exited, b.exited]);
      detail.exits = [ea, eb];
      expectEqual(ea.signal, 'SIGKILL', 'first exit signal');
      expectEqual(eb.signal, 'SIGKILL', 'second exit signal');
      await waitFor('populated 0', () => keyed(path.join(dir, 'cgroup.events')).populated === 0);
      expectEqual(read(path.join(dir, 'cgroup.procs')), '', 'cgroup.procs after kill');
    }),
  },
  {
    name: 'rmdir removes an empty cgroup and refuses a populated one (EBUSY)',
    run: async (detail) => {
      ensureParent();
      const dir = path.join(PARENT, 'rmdir');
      fs.mkdirSync(dir);
      const p = await startIn(dir, ['/bin/sleep', '1000']);
      try {
        let code = null;
        try {
          fs.rmdirSync(dir);
        } catch (e) {
          code = e.code;
        }
        detail.populatedRmdir = code;
        expectEqual(code, 'EBUSY', 'rmdir of a populated cgroup');
      } finally {
        process.kill(p.pid, 'SIGKILL');
        await p.exited;
      }
      await waitFor('populated 0', () => keyed(path.join(dir, 'cgroup.events')).populated === 0);
      fs.rmdirSync(dir);
      expect(!fs.existsSync(dir), 'still exists after rmdir');
    },
  },
  {
    name: 'pressure (PSI) files parse',
    run: withCgroup('psi', async (dir, detail) => {
      const text = read(path.join(dir, 'memory.pressure'));
      detail.memoryPressure = text.replace(/\n/g, ' | ');
      expect(/^some avg10=\d+\.\d+ avg60=\d+\.\d+ avg300=\d+\.\d+ total=\d+$/m.test(text), 'memory.pressure format');
      expect(/^full /m.test(text), 'memory.pressure has no full line');
    }),
  },
];

/** Removes the cases' parent cgroup (each case already removed its own). */
export function cleanupKernelCases() {
  if (fs.existsSync(PARENT)) fs.rmdirSync(PARENT);
}

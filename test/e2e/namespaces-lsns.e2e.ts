// The namespace inventory against lsns itself, on this machine's kernel (no Docker needed).
// The machine is shared: processes come and go between any two reads. So lsns runs twice, with
// our scan in between, and only entries that lsns printed identically both times must agree.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NamespaceEntry, readNamespaceInventory } from '../../src/kernel/namespaces.js';
import {
  NAMESPACE_TYPES,
  readNamespaceInodes,
  readProcessCmdline,
  readProcessEnviron,
  readProcessLsmLabels,
  readProcessStat,
  readProcessStatus,
} from '../../src/kernel/procfs/index.js';
import { ProcessScanner } from '../../src/kernel/scan/index.js';
import { type LsnsEntry, lsns } from './support/lsns.js';


const started: ChildProcess[] = [];
function start(argv: string[]): number {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', detached: false });
  started.push(child);
  return child.pid!;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until<T>(what: string, probe: () => T | undefined): Promise<T> {
  for (let i = 0; i < 200; i++) {
    try {
      const value = probe();
      if (value !== undefined) return value;
    } catch {
      // not there yet
    }
    await sleep(25);
  }
  throw new Error(`timed out waiting for ${what}`);
}

function childOf(pid: number): number | undefined {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
  return children ? Number(children.split(' ')[0]) : undefined;
}

const ours = readNamespaceInodes(process.pid);
let netHolder: number; // unshare --net --uts --ipc, exec'd into sleep
let netJoiner: number; // nsenter into netHolder's net namespace, exec'd into sleep
let pidParent: number; // unshare --fork --pid --mount-proc: stays in our pid namespace
let pidChild: number; // its child, pid 1 of the new pid namespace
let zombieParent: number; // a sleep that never reaps its exited child
let zombie: number;

beforeAll(async () => {
  netHolder = start(['unshare', '--net', '--uts', '--ipc', 'sleep', '600']);
  await until('the unshared net namespace', () =>
    readNamespaceInodes(netHolder).net !== ours.net && readProcessCmdline(netHolder)[0] === 'sleep' ? true : undefined,
  );
  netJoiner = start(['nsenter', `--target=${netHolder}`, '--net', 'sleep', '600']);
  await until('nsenter into it', () => (readProcessCmdline(netJoiner)[0] === 'sleep' ? true : undefined));

  pidParent = start(['unshare', '--fork', '--pid', '--mount-proc', '--kill-child', 'sleep', '600']);
  pidChild = await until('the pid namespace child', () => {
    const child = childOf(pidParent);
    return child !== undefined && readProcessCmdline(child)[0] === 'sleep' ? child : undefined;
  });

  zombieParent = start(['sh', '-c', 'sleep 0.05 & exec sleep 600']);
  zombie = await until('a zombie', () => {
    const child = childOf(zombieParent);
    return child !== undefined && readProcessStat(child).state === 'Z' ? child : undefined;
  });
}, 30_000);

afterAll(async () => {
  // Only the pids started here. Killing pidParent takes pidChild with it (--kill-child);
  // killing zombieParent lets init reap the zombie.
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(
    started.map((child) =>
      child.exitCode === null && child.signalCode === null
        ? new Promise((resolve) => child.once('exit', resolve))
        : undefined,
    ),
  );
});

/** Agreement on every entry lsns printed identically before and after our scan. */
function compare(inventory: NamespaceEntry[], before: Map<string, LsnsEntry>, after: Map<string, LsnsEntry>) {
  const mine = new Map(inventory.map((entry) => [`${entry.type}:${entry.inode}`, entry]));
  // lsns counts itself; it runs in this process's namespaces, our scan does not see it.
  const lsnsOwn = new Set(NAMESPACE_TYPES.map((type) => `${type}:${ours[type]}`));
  let compared = 0;
  const mismatches: string[] = [];
  for (const [key, first] of before) {
    const second = after.get(key);
    if (!second || JSON.stringify(second) !== JSON.stringify(first)) continue;
    compared++;
    const entry = mine.get(key);
    const expectedCount = first.nprocs - (lsnsOwn.has(key) ? 1 : 0);
    if (
      !entry ||
      entry.processCount !== expectedCount ||
      entry.pid !== first.pid ||
      entry.command !== first.command ||
      entry.user !== first.user
    ) {
      mismatches.push(`${key}: lsns ${JSON.stringify(first)} nsgate ${JSON.stringify(entry)}`);
    }
  }
  return { compared, mismatches, total: before.size };
}

/**
 * lsns, scan, lsns, until one round has full agreement on the stable entries and those cover
 * most of the inventory. A real disagreement fails every round; a process that started and
 * exited between the two lsns runs spoils only its own round.
 */
async function agreeWithLsns(scan: () => Promise<NamespaceEntry[]>) {
  let last: ReturnType<typeof compare> | undefined;
  for (let round = 0; round < 8; round++) {
    const before = await lsns();
    const inventory = await scan();
    const after = await lsns();
    last = compare(inventory, before, after);
    if (last.mismatches.length === 0 && last.compared >= Math.ceil(last.total * 0.8)) break;
  }
  expect(last!.mismatches).toEqual([]);
  expect(last!.compared).toBeGreaterThanOrEqual(Math.ceil(last!.total * 0.8));
}

describe('namespace inventory vs lsns -J', () => {
  it('agrees entry for entry (type, inode, count, lowest pid, command, user)', async () => {
    await agreeWithLsns(async () => readNamespaceInventory());
  });

  it('agrees through ProcessScanner too', async () => {
    const scanner = new ProcessScanner();
    try {
      await agreeWithLsns(async () => (await scanner.namespaces()).namespaces);
    } finally {
      await scanner.close();
    }
  });

  it('shows the unshared namespaces with their lowest pid and count', () => {
    const inventory = readNamespaceInventory();
    const find = (type: string, inode: string | null) =>
      inventory.find((entry) => entry.type === type && entry.inode === inode);
    const held = readNamespaceInodes(netHolder);
    // net is shared by the holder and the process nsenter put into it, uts and ipc are not.
    expect(find('net', held.net)).toMatchObject({
      processCount: 2,
      pid: Math.min(netHolder, netJoiner),
      command: 'sleep 600',
      user: 'root',
    });
    expect(readNamespaceInodes(netJoiner).net).toBe(held.net);
    expect(readNamespaceInodes(netJoiner).uts).toBe(ours.uts);
    expect(find('uts', held.uts)).toMatchObject({ processCount: 1, pid: netHolder });
    expect(find('ipc', held.ipc)).toMatchObject({ processCount: 1, pid: netHolder });

    // unshare --fork --pid --mount-proc: parent and child share the new mount namespace; only
    // the child is inside the new pid namespace, where it is pid 1.
    const child = readNamespaceInodes(pidChild);
    expect(readNamespaceInodes(pidParent).pid).toBe(ours.pid);
    expect(find('pid', child.pid)).toMatchObject({ processCount: 1, pid: pidChild, command: 'sleep 600' });
    expect(find('mnt', child.mnt)).toMatchObject({ processCount: 2, pid: Math.min(pidParent, pidChild) });
    expect(readProcessStatus(pidChild).nspid).toEqual([pidChild, 1]);
  });
});

describe('procfs readers on the real kernel', () => {
  it('read a zombie: state Z, no cmdline, no environ, only its pid and user ns links', () => {
    expect(readProcessStat(zombie).state).toBe('Z');
    expect(readProcessCmdline(zombie)).toEqual([]);
    expect(readProcessEnviron(zombie)).toEqual([]);
    // The nsproxy namespaces go when a task exits; pid (from its struct pid) and user (from its
    // credentials) stay readable, and lsns counts the zombie in those two, as we do.
    expect(readNamespaceInodes(zombie)).toEqual({
      cgroup: null,
      ipc: null,
      mnt: null,
      net: null,
      pid: ours.pid,
      time: null,
      user: ours.user,
      uts: null,
    });
  });

  it('read a kernel thread', () => {
    const kthread = [2, ...readFileSync('/proc/2/task/2/children', 'utf8').trim().split(' ').map(Number)][0]!;
    const stat = readProcessStat(kthread);
    expect(stat.flags & 0x00200000).not.toBe(0);
    expect(readProcessCmdline(kthread)).toEqual([]);
    expect(readProcessEnviron(kthread)).toEqual([]);
    expect(readNamespaceInodes(kthread).mnt).toMatch(/^\d+$/);
  });

  it('report no LSM label where the kernel has no LSM', () => {
    let lsms = '';
    try {
      lsms = readFileSync('/sys/kernel/security/lsm', 'utf8');
    } catch {
      // securityfs not mounted: no major LSM either
    }
    const labels = readProcessLsmLabels(process.pid);
    if (!/apparmor|selinux|smack/.test(lsms)) expect(labels).toEqual({ current: null, apparmor: null });
    else expect(labels.current ?? labels.apparmor).not.toBeNull();
  });

  it('read every ns link as the inode lsns and ls -l show', () => {
    const link = readlinkSync(`/proc/${process.pid}/ns/net`);
    expect(link).toBe(`net:[${ours.net}]`);
  });
});

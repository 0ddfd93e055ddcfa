import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LiveContainers, type LiveModelSource } from '../../../src/kernel/containers/live-model.js';
import type { ContainerInspect } from '../../../src/kernel/docker/containers.js';
import { NsgateError } from '../../../src/kernel/errors.js';

/*
 * The model's bookkeeping on a fixture proc tree and a fake engine: events re-inspect one
 * container, a list heals what events missed, an engine that stops answering leaves the model
 * serving what it knew (stale), and a pid's start time decides whether it is still served.
 */

const NS = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'];

function statLine(pid: number, startTicks: number, state = 'S'): string {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime prio nice threads itreal starttime vsize rss
  return `${pid} (sleep) ${state} 1 ${pid} ${pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 ${startTicks} 1000 10\n`;
}

class FakeEngine implements LiveModelSource {
  containers = new Map<string, { name: string; state: string; pid: number }>();
  down = false;
  inspects = 0;
  async list() {
    if (this.down) throw new NsgateError('ENGINE_UNAVAILABLE', 'down');
    return [...this.containers].map(([id, c]) => ({ id, name: c.name, state: c.state }));
  }
  async inspect(id: string): Promise<ContainerInspect> {
    if (this.down) throw new NsgateError('ENGINE_UNAVAILABLE', 'down');
    this.inspects++;
    const c = this.containers.get(id);
    if (!c) throw new NsgateError('CONTAINER_NOT_FOUND', `no container ${id}`);
    const running = c.state === 'running';
    return {
      Id: id,
      Name: `/${c.name}`,
      Config: { Image: 'busybox', Env: ['A=1'], Labels: { l: 'v' } },
      State: { Status: c.state, Running: running, Pid: running ? c.pid : 0 },
      HostConfig: { Privileged: false, PidMode: '', NetworkMode: 'none' },
      Mounts: [],
    } as unknown as ContainerInspect;
  }
}

describe('LiveContainers', () => {
  let root: string;
  let engine: FakeEngine;
  let model: LiveContainers;
  const A = 'a1'.repeat(32);
  const B = 'b2'.repeat(32);

  /** A process in the fixture tree, in the cgroup of container `id`. */
  function proc(pid: number, id: string, startTicks: number, state = 'S'): void {
    const dir = join(root, String(pid));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'ns'), { recursive: true });
    writeFileSync(join(dir, 'stat'), statLine(pid, startTicks, state));
    writeFileSync(join(dir, 'cgroup'), `4:memory:/docker/${id}\n1:name=systemd:/docker/${id}\n0::/docker/${id}\n`);
    for (const t of NS) symlinkSync(`${t}:[${4026532000 + pid}]`, join(dir, 'ns', t));
  }

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'nsgate-live-'));
    for (const pid of [1, process.pid]) {
      mkdirSync(join(root, String(pid), 'ns'), { recursive: true });
      writeFileSync(join(root, String(pid), 'stat'), statLine(pid, 1));
      for (const t of NS) symlinkSync(`${t}:[4026531840]`, join(root, String(pid), 'ns', t));
    }
    engine = new FakeEngine();
    model = new LiveContainers({ source: engine, procRoot: root, reconcileMs: 3_600_000 });
  });
  afterEach(() => {
    model.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('loads every container with its pid, start time, cgroup and namespaces', async () => {
    engine.containers.set(A, { name: 'db', state: 'running', pid: 100 });
    engine.containers.set(B, { name: 'old', state: 'exited', pid: 0 });
    proc(100, A, 5000);
    await model.start();
    expect(model.status()).toMatchObject({ loaded: true, stale: false });
    expect(model.resolve('db')).toMatchObject({ id: A, pid: 100, startTimeTicks: 5000, cgroupPath: `/docker/${A}`, image: 'busybox', env: ['A=1'], labels: { l: 'v' } });
    expect(model.resolve('db').namespaces?.net).toBe(String(4026532100));
    expect(model.resolve('/old')).toMatchObject({ id: B, pid: null, state: 'exited' });
    expect(model.resolve('b2b2')).toMatchObject({ id: B });
  });

  it('re-inspects one container per event, and drops it on destroy', async () => {
    await model.start();
    engine.containers.set(A, { name: 'db', state: 'running', pid: 100 });
    proc(100, A, 5000);
    model.onEvent({ action: 'start', id: A });
    await model.refresh(A);
    expect(model.resolve(A).pid).toBe(100);
    engine.containers.set(A, { name: 'db2', state: 'running', pid: 100 });
    model.onEvent({ action: 'rename', id: A });
    await model.refresh(A);
    expect(model.resolve('db2').id).toBe(A);
    expect(() => model.resolve('db')).toThrow(expect.objectContaining({ code: 'CONTAINER_NOT_FOUND' }));
    model.onEvent({ action: 'destroy', id: A });
    expect(model.entries()).toEqual([]);
  });

  it('heals by a list what no event said: new, renamed, stopped and removed containers', async () => {
    engine.containers.set(A, { name: 'db', state: 'running', pid: 100 });
    engine.containers.set(B, { name: 'web', state: 'running', pid: 200 });
    proc(100, A, 5000);
    proc(200, B, 6000);
    await model.start();
    const C = 'c3'.repeat(32);
    engine.containers.set(C, { name: 'new', state: 'running', pid: 300 });
    proc(300, C, 7000);
    engine.containers.set(A, { name: 'renamed', state: 'running', pid: 100 });
    engine.containers.delete(B);
    await model.reconcile();
    expect(model.entries().map((c) => c.name).sort()).toEqual(['new', 'renamed']);
    expect(model.resolve('new').pid).toBe(300);
  });

  it('inspects again only what changed, on a list', async () => {
    engine.containers.set(A, { name: 'db', state: 'running', pid: 100 });
    proc(100, A, 5000);
    await model.start();
    const before = engine.inspects;
    await model.reconcile();
    expect(engine.inspects).toBe(before);
  });

  it('serves what it knew, marked stale, while the engine is down, and recovers on the next list', async () => {
    engine.containers.set(A, { name: 'db', state: 'running', pid: 100 });
    proc(100, A, 5000);
    await model.start();
    engine.down = true;
    await model.reconcile();
    expect(model.status()).toMatchObject({ stale: true, loaded: true });
    expect(model.resolve('db').pid).toBe(100);
    engine.down = false;
    await model.reconcile();
    expect(model.status().stale).toBe(false);
  });

  it('never serves a pid whose start time changed (reused) or whose process is a zombie or gone', async () => {
    engine.containers.set(A, { name: 'db', state: 'running', pid: 100 });
    proc(100, A, 5000);
    await model.start();
    proc(100, A, 9000); // the pid now belongs to a process that started later
    expect(model.resolve('db')).toMatchObject({ pid: null, state: 'exited' });
    proc(100, A, 5000, 'Z');
    expect(model.resolve('db').pid).toBeNull();
    rmSync(join(root, '100'), { recursive: true });
    expect(model.entries()[0]!.pid).toBeNull();
  });

  it('does not pin a pid that sits in another container\'s cgroup', async () => {
    engine.containers.set(A, { name: 'db', state: 'running', pid: 100 });
    proc(100, B, 5000);
    await model.start();
    expect(model.resolve('db')).toMatchObject({ pid: null, state: 'exited' });
  });

  it('keeps Docker\'s resolution order and its ambiguity error', async () => {
    const X = 'abcd' + '0'.repeat(60);
    const Y = 'abcd' + '1'.repeat(60);
    engine.containers.set(X, { name: 'x', state: 'exited', pid: 0 });
    engine.containers.set(Y, { name: 'y', state: 'exited', pid: 0 });
    await model.start();
    expect(() => model.resolve('abcd')).toThrow(expect.objectContaining({ code: 'CONTAINER_AMBIGUOUS' }));
    expect(model.resolve('abcd0').id).toBe(X);
    expect(() => model.resolve('abc')).toThrow(expect.objectContaining({ code: 'CONTAINER_NOT_FOUND' }));
  });

  it('a failed first list leaves it not loaded and stale', async () => {
    engine.down = true;
    await model.start();
    expect(model.status()).toMatchObject({ loaded: false, stale: true });
  });
});

import type { StatGroup } from '../kernel/cgroups/driver.js';
import { joinCgroupPath, parseCgroupPath } from '../kernel/cgroups/paths.js';
import type { CgroupSystem } from '../kernel/cgroups/system.js';
import { recogniseMemberships } from '../kernel/containers/runtimes.js';
import { inspectContainer, listContainers } from '../kernel/docker/containers.js';
import type { DockerEngine } from '../kernel/docker/engine.js';
import { readProcessCgroups } from '../kernel/procfs/cgroup.js';
import type { OomTarget } from './oom-watch.js';

const MEMORY_ONLY: ReadonlySet<StatGroup> = new Set(['memory']);

/**
 * A cgroup's OOM-kill counter: v1 memory.oom_control "oom_kill", v2 memory.events
 * "oom_kill" (v2 counts the cgroup's descendants too). Only the memory files are read, not
 * the cgroup's whole stats: this runs every second per watched cgroup. Null when the cgroup
 * is gone or the kernel keeps no counter.
 */
export function readOomKills(system: CgroupSystem, pathInput: string): number | null {
  const path = parseCgroupPath(pathInput);
  for (const driver of system.drivers) {
    if (!driver.features.has('memory') || driver.presentIn(path).length === 0) continue;
    const kills = driver.readStats(path, MEMORY_ONLY).memory?.oomKills;
    if (typeof kills === 'number') return kills;
  }
  return null;
}

/** The managed cgroups (NSGATE_MANAGED_CGROUPS and below), breadth first, at most `maxNodes`. */
export function managedCgroups(system: CgroupSystem, options: { maxNodes?: number; maxDepth?: number } = {}): OomTarget[] {
  const maxNodes = options.maxNodes ?? 512;
  const maxDepth = options.maxDepth ?? 16;
  const out: OomTarget[] = [];
  for (const prefix of system.managed) {
    if (!system.exists(prefix)) continue;
    let level = [prefix];
    for (let depth = 0; depth <= maxDepth && level.length; depth++) {
      const next: string[] = [];
      for (const path of level) {
        if (out.length >= maxNodes) return out;
        out.push({ path });
        const names = new Set(system.drivers.flatMap((d) => d.childrenOf(path)));
        for (const name of [...names].sort()) next.push(joinCgroupPath(path, name));
      }
      level = next;
    }
  }
  return out;
}

/** A running container's own cgroup, from its init process's /proc/PID/cgroup. */
export async function containerCgroup(engine: DockerEngine, id: string, procRoot: string): Promise<OomTarget | null> {
  const info = await inspectContainer(engine, id);
  if (!info.State.Running || !(info.State.Pid > 0)) return null;
  try {
    const path = recogniseMemberships(readProcessCgroups(info.State.Pid, { procRoot }))?.cgroupPath;
    if (!path) return null;
    const startedAt = Date.parse(info.State.StartedAt);
    return { path, containerId: info.Id, containerName: info.Name.replace(/^\//, ''), ...(Number.isFinite(startedAt) ? { createdAt: startedAt } : {}) };
  } catch {
    // it stopped between the engine's answer and the read
    return null;
  }
}

/** Every running engine container's cgroup. Throws when the engine does not answer (the watch keeps what it had). */
export async function runningContainerCgroups(engine: DockerEngine, procRoot: string): Promise<OomTarget[]> {
  const running = await listContainers(engine, { all: false });
  const found = await Promise.all(running.map((c) => containerCgroup(engine, c.id, procRoot).catch(() => null)));
  return found.filter((t): t is OomTarget => t !== null);
}

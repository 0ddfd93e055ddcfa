import { Injectable } from '@nestjs/common';
import { type ChangeOptions } from '../cgroups/cgroup-changes.js';
import { checkPrecondition, limitsVersion } from '../changes/limits-version.js';
import type { Limits, LimitsChange } from '../kernel/cgroups/driver.js';
import { KeyedMutex } from '../kernel/cgroups/mutex.js';
import { parentOf } from '../kernel/cgroups/paths.js';
import { type PreflightFinding, preflightLimits } from '../kernel/cgroups/preflight.js';
import { CgroupSystem } from '../kernel/cgroups/system.js';
import {
  type ContainerLimitsChange,
  type DockerLimits,
  dockerLimitsOf,
  type EngineUpdateBody,
  inspectContainer,
  planLimitsUpdate,
  updateContainerLimits,
} from '../kernel/docker/containers.js';
import { DockerEngine } from '../kernel/docker/engine.js';
import { NsgateError } from '../kernel/errors.js';
import { ContainerIndex, type IndexedContainer } from './container-index.js';
import type { ContainerLimitsChangeModel, EngineLimitsModel } from './container.models.js';
import { parseBytes } from '../kernel/cgroups/units.js';
import type { ContainerLimitsBody } from './dto/container.dto.js';

/** One engine field a change sends, with what the engine held: docker inspect's HostConfig names. */
export interface EngineWrite {
  field: keyof EngineUpdateBody;
  from: number | null;
  to: number;
}

/** A container limits change as answered: the kernel's and the engine's before/after, the version, what was sent. */
export interface ContainerChangeAnswer extends ContainerLimitsChangeModel {
  target: string;
  dryRun: boolean;
  version: string;
  writes: EngineWrite[];
  findings?: PreflightFinding[];
}

const FIELD_OF: Record<keyof EngineUpdateBody, keyof DockerLimits> = {
  Memory: 'memory',
  MemorySwap: 'memorySwap',
  NanoCpus: 'nanoCpus',
  CpuShares: 'cpuShares',
  PidsLimit: 'pidsLimit',
};

/**
 * A container's limits change, through the same steps as a cgroup's: resolve → (lock) read the
 * engine's and the kernel's values → precondition → plan the engine fields → send (or only
 * answer the plan) → read back. Changes nsgate makes to one container are serialized here; a
 * `docker update` from elsewhere is not, and shows up as a moved version.
 */
@Injectable()
export class ContainerChanges {
  private readonly mutex = new KeyedMutex();

  constructor(
    private readonly engine: DockerEngine,
    private readonly system: CgroupSystem,
    private readonly index: ContainerIndex,
  ) {}

  /** The full id of an engine container (batches refuse two changes to one container). */
  async resolveId(idOrName: string): Promise<string> {
    return (await this.index.resolve(idOrName)).id;
  }

  /**
   * The version reads show (GET one container, GraphQL limitsVersion), without asking the engine:
   * its values as the live model last inspected them (it re-inspects on the engine's update
   * events, and after nsgate's own changes). Should the model lag, a change's precondition (which
   * asks the engine) answers 412 with the current version: never a change on stale values.
   */
  readVersion(c: IndexedContainer): string | null {
    if (c.source !== 'engine' || !c.engineLimits) return null;
    return limitsVersion(this.valuesOf(c.engineLimits, c.pid !== null ? c.cgroupPath : null));
  }

  /** What the engine and the kernel hold for the container now, and their version (one engine call). */
  async current(idOrName: string): Promise<{ id: string; cgroupPath: string | null; values: { engine: DockerLimits; kernel: Limits | null }; version: string }> {
    const c = await this.index.resolve(idOrName);
    const info = await inspectContainer(this.engine, c.id);
    const path = info.State?.Running && c.pid !== null ? c.cgroupPath : null;
    const values = this.valuesOf(dockerLimitsOf(info), path);
    return { id: c.id, cgroupPath: path, values, version: limitsVersion(values) };
  }

  private valuesOf(engine: DockerLimits, cgroupPath: string | null): { engine: DockerLimits; kernel: Limits | null } {
    return { engine, kernel: cgroupPath && this.system.exists(cgroupPath) ? this.system.readLimits(cgroupPath) : null };
  }

  async apply(idOrName: string, body: ContainerLimitsBody, options: ChangeOptions = {}): Promise<ContainerChangeAnswer> {
    const c = await this.index.resolve(idOrName);
    if (c.source !== 'engine') {
      throw new NsgateError('CONFLICT', `${c.runtime} container ${c.name} is not the Docker Engine's; change its cgroup instead`, { id: c.id, runtime: c.runtime });
    }
    const change = toEngineChange(body);
    const target = `container:${idOrName}`;
    return this.mutex.run(c.id, async () => {
      const now = await this.current(c.id);
      checkPrecondition(options.ifVersion, target, now);
      if (options.dryRun) return this.plan(target, now, change);
      const result = await updateContainerLimits(this.engine, c.id, change);
      // reads take the engine's values from the live model: bring it up to date before answering
      await this.index.model.refresh(c.id);
      const after = now.cgroupPath && this.system.exists(now.cgroupPath) ? this.system.readLimits(now.cgroupPath) : null;
      return {
        id: result.id,
        target,
        dryRun: false,
        before: now.values.kernel,
        after,
        engineBefore: engineLimits(result.before),
        engineAfter: engineLimits(result.after),
        warnings: result.warnings,
        writes: writesOf(result.sent, result.before),
        version: limitsVersion({ engine: result.after, kernel: after }),
      };
    });
  }

  /**
   * Puts the engine fields a change sent back to what the engine held. A memory, cpus or
   * shares limit that was unset before cannot be unset through the engine: such a change is
   * not restorable (see restorable()).
   */
  async restore(answer: ContainerChangeAnswer): Promise<void> {
    if (answer.dryRun || answer.writes.length === 0) return;
    const back: ContainerLimitsChange = {};
    for (const w of answer.writes) {
      const key = FIELD_OF[w.field];
      const was = answer.engineBefore[key as keyof typeof answer.engineBefore];
      if (key === 'memorySwap' || key === 'pidsLimit') back[key] = was ?? -1;
      else if (was !== null) back[key as 'memory' | 'nanoCpus' | 'cpuShares'] = was;
    }
    if (Object.keys(back).length) {
      await updateContainerLimits(this.engine, answer.id, back);
      await this.index.model.refresh(answer.id);
    }
  }

  /** False when the change sets a limit the engine cannot take back (memory, cpus, shares that were unset). */
  static restorable(answer: Pick<ContainerChangeAnswer, 'writes'>): boolean {
    return answer.writes.every((w) => w.from !== null || w.field === 'MemorySwap' || w.field === 'PidsLimit');
  }

  private plan(target: string, now: Awaited<ReturnType<ContainerChanges['current']>>, change: ContainerLimitsChange): ContainerChangeAnswer {
    const findings: PreflightFinding[] = [];
    let writes: EngineWrite[] = [];
    try {
      writes = writesOf(planLimitsUpdate(change, now.values.engine), now.values.engine);
    } catch (err) {
      if (!(err instanceof NsgateError)) throw err;
      findings.push({ code: 'WOULD_FAIL', severity: 'error', field: Object.keys(err.details ?? {})[0] ?? '', message: err.message, details: { errorCode: err.code, ...(err.details ?? {}) } });
    }
    if (now.cgroupPath) {
      const kernelChange: LimitsChange = {};
      if (change.memory !== undefined) kernelChange.memory = { max: change.memory };
      if (change.pidsLimit !== undefined) kernelChange.pids = { max: change.pidsLimit > 0 ? change.pidsLimit : null };
      let parentLimits: Limits | null = null;
      try {
        parentLimits = this.system.readLimits(parentOf(now.cgroupPath));
      } catch {
        parentLimits = null;
      }
      findings.push(...preflightLimits({ path: now.cgroupPath, change: kernelChange, stats: this.system.readStats(now.cgroupPath), parentLimits }));
    }
    return {
      id: now.id,
      target,
      dryRun: true,
      before: now.values.kernel,
      after: now.values.kernel,
      engineBefore: engineLimits(now.values.engine),
      engineAfter: engineLimits(now.values.engine),
      warnings: [],
      writes,
      version: now.version,
      findings,
    };
  }
}

function writesOf(sent: EngineUpdateBody, before: DockerLimits): EngineWrite[] {
  return (Object.keys(sent) as (keyof EngineUpdateBody)[]).filter((f) => sent[f] !== undefined).map((field) => ({ field, from: before[FIELD_OF[field]], to: sent[field]! }));
}

function engineLimits(l: DockerLimits): EngineLimitsModel {
  return { memory: l.memory, memorySwap: l.memorySwap, nanoCpus: l.nanoCpus, cpuShares: l.cpuShares, pidsLimit: l.pidsLimit };
}

function toEngineChange(body: ContainerLimitsBody): ContainerLimitsChange {
  const change: ContainerLimitsChange = {};
  if (body.memory !== undefined) {
    const bytes = parseBytes(body.memory, 'memory');
    if (bytes === null) throw new NsgateError('LIMIT_INVALID', 'memory: the engine cannot remove a memory limit once set; give a size', { field: 'memory' });
    change.memory = bytes;
  }
  if (body.memorySwap !== undefined) {
    const swap = body.memorySwap === -1 || body.memorySwap === '-1' ? null : parseBytes(body.memorySwap, 'memorySwap');
    change.memorySwap = swap === null ? -1 : swap;
  }
  if (body.cpus !== undefined) change.nanoCpus = Math.round(body.cpus * 1e9);
  if (body.cpuShares !== undefined) change.cpuShares = body.cpuShares;
  if (body.pidsLimit !== undefined) change.pidsLimit = body.pidsLimit;
  if (Object.keys(change).length === 0) throw new NsgateError('VALIDATION_FAILED', 'give at least one of memory, memorySwap, cpus, cpuShares, pidsLimit');
  return change;
}

import { Injectable } from '@nestjs/common';
import { checkPrecondition, limitsVersion } from '../changes/limits-version.js';
import type { ChangeOptions } from '../common/change-options.js';
import type { Limits, LimitsChange } from '../kernel/cgroups/driver.js';
import type { LimitWrite } from '../kernel/cgroups/journal.js';
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
import { stagedTargetOf } from '../kernel/cgroups/reclaim.js';
import { engineValuesAsKernelInput, limitsDrift } from '../kernel/containers/drift.js';
import type { Lease } from '../leases/lease-store.js';
import { type LeaseRef, LeasesService } from '../leases/leases.service.js';
import { ContainerDrift } from './container-drift.js';
import { ContainerIndex, type IndexedContainer } from './container-index.js';
import type { ContainerLimitsChangeModel, ContainerReconcileModel, EngineLimitsModel } from './container.models.js';
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
  /** Dry runs with strategy "reclaim": the stages around the engine's write (see LimitsUpdate.stages). */
  stages?: LimitWrite[];
  /** The lease the change made (ttlSeconds); a dry run: the lease it would make (id null). */
  lease?: LeaseRef;
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
    private readonly drift: ContainerDrift,
    private readonly leases: LeasesService,
  ) {
    // a lease's expiry: the engine's before values for the fields the change set (a lowering in stages)
    leases.registerRestorer('container', (lease) => this.restoreLease(lease));
  }

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

  /**
   * The change (change()), then the lease bookkeeping: earlier leases on the fields it set end
   * void, and with ttlSeconds its own lease is on disk before the answer (if that write fails,
   * the change is put back). A dry run makes no lease and voids none; it says the lease it would make.
   */
  async apply(idOrName: string, body: ContainerLimitsBody, options: ChangeOptions = {}): Promise<ContainerChangeAnswer> {
    const answer = await this.change(idOrName, body, options);
    const fields = containerLimitFields(body);
    if (answer.dryRun) return options.ttlSeconds === undefined ? answer : { ...answer, lease: this.leases.wouldMake(fields, options.ttlSeconds) };
    const target = `container:${answer.id}`;
    const requestId = options.requestId ?? 'unknown';
    const lease = await this.leases
      .afterChange(
        { target, fields, requestId },
        options.ttlSeconds === undefined ? undefined : { kind: 'container', target, fields, ttlSeconds: options.ttlSeconds, requestId, before: answer.engineBefore, after: answer.engineAfter },
      )
      .catch(async (err: unknown) => {
        if (options.ttlSeconds === undefined) throw err;
        await this.restore(answer).catch(() => undefined);
        throw new NsgateError('INTERNAL', `the lease could not be kept in the state folder, so the change was put back: ${(err as Error).message}`, { id: answer.id });
      });
    return lease ? { ...answer, lease: { id: lease.id, expiresAt: lease.expiresAt, fields: lease.fields } } : answer;
  }

  /**
   * The pipeline itself: resolve → (lock) read → precondition → plan → send (strategy "reclaim":
   * a memory limit below usage reached in stages around the engine's write) → read back.
   */
  private async change(idOrName: string, body: ContainerLimitsBody, options: ChangeOptions): Promise<ContainerChangeAnswer> {
    const c = await this.index.resolve(idOrName);
    if (c.source !== 'engine') {
      throw new NsgateError('CONFLICT', `${c.runtime} container ${c.name} is not the Docker Engine's; change its cgroup instead`, { id: c.id, runtime: c.runtime });
    }
    const change = toEngineChange(body);
    // the same checks of strategy and timeoutMs as a cgroup change (before anything is read)
    const staged = stagedTargetOf({ memory: change.memory === undefined ? undefined : { max: change.memory } }, { strategy: options.strategy, timeoutMs: options.timeoutMs });
    const fields = containerLimitFields(body);
    if (options.ttlSeconds !== undefined) this.leases.assertRoom();
    const target = `container:${idOrName}`;
    return this.mutex.run(c.id, async () => {
      const now = await this.current(c.id);
      checkPrecondition(options.ifVersion, target, now);
      if (options.ttlSeconds !== undefined) assertLeasable(fields, now.values.engine);
      if (options.dryRun) {
        const plan = this.plan(target, now, change);
        return staged && now.cgroupPath ? { ...plan, stages: this.system.containerStagedPlan(now.cgroupPath, staged.target) } : plan;
      }
      const viaEngine = () => updateContainerLimits(this.engine, c.id, change);
      const result = await this.drift.whileChanging(c.id, async () => {
        const done = staged && now.cgroupPath ? await this.system.lowerContainerMemory(now.cgroupPath, staged.target, staged.timeoutMs, viaEngine) : await viaEngine();
        // reads take the engine's values from the live model (and drift is judged against them): bring it up to date first
        await this.index.model.refresh(c.id);
        return done;
      });
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
   * Puts the engine's limits back into the kernel where they drifted: the engine's values as it
   * holds them now (the live model, refreshed), written into the container's own cgroup through
   * the cgroup pipeline's locked step (precondition on the container's version, dry run, writes).
   */
  async reconcile(idOrName: string, options: Pick<ChangeOptions, 'ifVersion' | 'dryRun'> = {}): Promise<ContainerReconcileModel> {
    const found = await this.index.resolve(idOrName);
    if (found.source !== 'engine') {
      throw new NsgateError('CONFLICT', `${found.runtime} container ${found.name} is not the Docker Engine's: there is nothing to reconcile with`, { id: found.id });
    }
    const target = `container:${idOrName}`;
    return this.mutex.run(found.id, async () => {
      await this.index.model.refresh(found.id);
      const c = await this.index.resolve(found.id);
      if (c.pid === null || c.cgroupPath === null || !c.engineLimits) throw new NsgateError('CONFLICT', `container ${c.name} is not running`, { id: c.id, state: c.state });
      const path = c.cgroupPath;
      const engine = c.engineLimits;
      const versionOf = (kernel: Limits) => limitsVersion({ engine, kernel });
      const precondition = (kernel: Limits) => checkPrecondition(options.ifVersion, target, { version: versionOf(kernel), values: { engine, kernel } });
      const dryRun = options.dryRun ?? false;
      return this.drift.whileChanging(c.id, async () => {
        const before = this.system.readLimits(path);
        const drift = limitsDrift(before, engine);
        if (drift.length === 0) {
          precondition(before);
          return { id: c.id, target, dryRun, version: versionOf(before), drift, before, after: before, engine: engineLimits(engine), writes: [] };
        }
        const update = await this.system.writeContainerCgroup(path, engineValuesAsKernelInput(drift, engine), { precondition, dryRun });
        return { id: c.id, target, dryRun, version: versionOf(update.after), drift, before: update.before, after: update.after, engine: engineLimits(engine), writes: update.writes ?? [] };
      });
    });
  }

  /** A lease's expiry: a change that got in first (through nsgate or docker update) wins over the way back. */
  private async restoreLease(lease: Lease): Promise<{ before: unknown; after: unknown }> {
    const id = lease.target.slice('container:'.length);
    await this.index.model.refresh(id);
    const now = (await this.index.resolve(id)).engineLimits;
    const after = lease.after as EngineLimitsModel;
    const changed = lease.fields.filter((f) => {
      const key = f === 'cpus' ? 'nanoCpus' : (f as keyof EngineLimitsModel);
      return now !== null && now[key] !== after[key];
    });
    if (changed.length) throw new NsgateError('CONFLICT', `container ${id} changed since (${changed.join(', ')}); nothing was put back`, { id, changed });
    const r = await this.change(id, restoreBody(lease.fields, lease.before as EngineLimitsModel), { strategy: 'reclaim', requestId: `lease-${lease.id}` });
    return { before: r.engineBefore, after: r.engineAfter };
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
    // the change is undone: its lease has nothing left to put back
    if (answer.lease?.id) await this.leases.drop(answer.lease.id);
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

/** The fields a container limits body sets, as leases name them (the body's own names). */
export function containerLimitFields(body: ContainerLimitsBody): string[] {
  return (['memory', 'memorySwap', 'cpus', 'cpuShares', 'pidsLimit'] as const).filter((k) => body[k] !== undefined && body[k] !== null);
}

/**
 * A lease must be able to put `before` back through the engine, which cannot remove a memory or
 * CPU limit once set: such a change is refused with ttlSeconds before anything is written.
 */
function assertLeasable(fields: readonly string[], engine: DockerLimits): void {
  const unrestorable = fields.filter((f) => (f === 'memory' && engine.memory === null) || (f === 'cpus' && engine.nanoCpus === null));
  if (unrestorable.length) {
    throw new NsgateError('LIMIT_INVALID', `a lease could not put ${unrestorable.join(', ')} back: the engine cannot remove a limit once set (it has none now); send the change without ttlSeconds`, {
      field: 'ttlSeconds',
      fields: unrestorable,
    });
  }
}

/** The body that puts the engine's `before` back for `fields` (unset shares: the kernel's 1024; unlimited swap or pids: -1). */
function restoreBody(fields: readonly string[], before: EngineLimitsModel): ContainerLimitsBody {
  const body: ContainerLimitsBody = {};
  for (const f of fields) {
    if (f === 'memory' && before.memory !== null) body.memory = before.memory;
    if (f === 'memorySwap') body.memorySwap = before.memorySwap ?? -1;
    if (f === 'cpus' && before.nanoCpus !== null) body.cpus = before.nanoCpus / 1e9;
    if (f === 'cpuShares') body.cpuShares = before.cpuShares ?? 1024;
    if (f === 'pidsLimit') body.pidsLimit = before.pidsLimit ?? -1;
  }
  return body;
}

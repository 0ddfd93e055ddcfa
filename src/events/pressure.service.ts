import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { Gauge } from 'prom-client';
import { MetricsService } from '../metrics/metrics.service.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Caller } from '../auth/roles.js';
import { roleSatisfies } from '../auth/roles.js';
import { ContainerIndex } from '../containers/container-index.js';
import { parseCgroupPath } from '../kernel/cgroups/paths.js';
import { CgroupSystem } from '../kernel/cgroups/system.js';
import { NsgateError } from '../kernel/errors.js';
import { PressureTriggers, parseTriggerSpec, type PressureResource, type TriggerState } from '../kernel/pressure/triggers.js';
import { EventsService } from './events.service.js';
import type { PressureTriggerBody, PressureTriggerModel } from './pressure.models.js';

/** Triggers one caller (token name) may hold. */
export const MAX_TRIGGERS_PER_CALLER = 16;
/** Triggers nsgate holds in all. */
export const MAX_TRIGGERS = 256;

const HELPER = fileURLToPath(new URL('../native/nsgate-psi', import.meta.url));

interface Registration {
  owner: string;
  target: string;
}

/**
 * Pressure triggers callers register on a cgroup or a container: armed in the kernel (PSI
 * trigger, POLLPRI through the nsgate-psi helper) where it takes them, polled otherwise; each
 * firing is a `pressure.threshold` event. In memory: they end with the process.
 */
@Injectable()
export class PressureService implements OnModuleDestroy {
  private readonly logger = new Logger('pressure');
  private readonly triggers: PressureTriggers;
  private readonly registrations = new Map<number, Registration>();

  constructor(
    private readonly system: CgroupSystem,
    private readonly index: ContainerIndex,
    private readonly events: EventsService,
    metrics: MetricsService,
  ) {
    // dist/events/ -> dist/native/nsgate-psi; from the sources (tests) the built one
    const helper = existsSync(HELPER) ? HELPER : join(process.cwd(), 'dist/native/nsgate-psi');
    this.triggers = new PressureTriggers({
      helperPath: existsSync(helper) ? helper : null,
      pressureFile: (path, resource) => this.pressureFile(path, resource),
      readTotal: (path, resource, kind) => {
        try {
          return this.system.readStats(path, new Set(['pressure'])).pressure?.[resource]?.[kind]?.total ?? null;
        } catch (err) {
          if (err instanceof NsgateError && (err.code === 'CGROUP_GONE' || err.code === 'CGROUP_NOT_FOUND')) return null;
          throw err;
        }
      },
      onFire: (state) => this.publish(state),
      onGone: (state) => {
        this.logger.debug(`pressure trigger ${state.id}: ${state.cgroupPath} went away`);
        this.registrations.delete(state.id);
      },
      log: (m) => this.logger.warn(m),
    });
    const triggers = () => this.list();
    new Gauge({
      name: 'nsgate_pressure_triggers',
      help: 'Registered pressure triggers, by mode (kernel: PSI trigger; polling: PSI totals read once a second)',
      labelNames: ['mode'] as const,
      registers: [metrics.registry],
      collect() {
        const all = triggers();
        for (const mode of ['kernel', 'polling']) this.labels(mode).set(all.filter((t) => t.mode === mode).length);
      },
    });
  }

  onModuleDestroy(): void {
    this.triggers.stop();
  }

  private pressureFile(path: string, resource: PressureResource): string | null {
    const v2 = this.system.hierarchies.find((h) => h.version === 2);
    if (!v2) return null;
    const dir = this.system.files.dir(v2, path);
    const file = `${resource}.pressure`;
    return dir?.has(file) ? join(dir.fsPath, file) : null;
  }

  private model(state: TriggerState): PressureTriggerModel {
    const r = this.registrations.get(state.id)!;
    return { id: state.id, target: r.target, cgroupPath: state.cgroupPath, ...state.spec, mode: state.mode, modeReason: state.modeReason, owner: r.owner, armedAt: state.armedAt, fired: state.fired, lastFiredAt: state.lastFiredAt };
  }

  private publish(state: TriggerState): void {
    const r = this.registrations.get(state.id);
    if (!r) return;
    this.events.bus.publish('pressure.threshold', r.target, {
      trigger: state.id,
      cgroupPath: state.cgroupPath,
      ...state.spec,
      mode: state.mode,
      fired: state.fired,
    });
  }

  list(): PressureTriggerModel[] {
    return this.triggers.list().filter((s) => this.registrations.has(s.id)).map((s) => this.model(s));
  }

  /** The triggers watching one cgroup (GET /v1/cgroups/{path}/-/pressure-triggers). */
  listOf(pathInput: string): PressureTriggerModel[] {
    const path = parseCgroupPath(pathInput);
    return this.list().filter((t) => t.cgroupPath === path);
  }

  get(id: number): PressureTriggerModel {
    const s = this.triggers.get(id);
    if (!s || !this.registrations.has(id)) throw new NsgateError('NOT_FOUND', `no pressure trigger ${id}`, { id });
    return this.model(s);
  }

  async add(caller: Caller, body: PressureTriggerBody): Promise<PressureTriggerModel> {
    if ((body.cgroup === undefined) === (body.container === undefined)) throw new NsgateError('VALIDATION_FAILED', 'give one of cgroup and container', { fields: ['cgroup', 'container'] });
    const spec = parseTriggerSpec(body);
    let path: string;
    let target: string;
    if (body.container !== undefined) {
      const c = await this.index.resolve(body.container);
      if (c.pid === null || c.cgroupPath === null) throw new NsgateError('CONFLICT', `container ${c.name} is not running`, { id: c.id });
      path = c.cgroupPath;
      target = `container:${c.id}`;
    } else {
      path = parseCgroupPath(body.cgroup!);
      if (!this.system.exists(path)) throw new NsgateError('CGROUP_NOT_FOUND', `cgroup ${path} does not exist`, { path });
      target = `cgroup:${path}`;
    }
    const mine = [...this.registrations.values()].filter((r) => r.owner === caller.name).length;
    if (mine >= MAX_TRIGGERS_PER_CALLER) throw new NsgateError('RATE_LIMITED', `${caller.name} holds ${mine} pressure triggers, the most one caller may; delete one first`, { max: MAX_TRIGGERS_PER_CALLER });
    if (this.registrations.size >= MAX_TRIGGERS) throw new NsgateError('RATE_LIMITED', `nsgate holds ${MAX_TRIGGERS} pressure triggers, its most`, { max: MAX_TRIGGERS });
    const state = await this.triggers.add(path, spec);
    this.registrations.set(state.id, { owner: caller.name, target });
    return this.model(state);
  }

  /** The owner, or an admin, removes a trigger. */
  remove(caller: Caller, id: number): PressureTriggerModel {
    const found = this.get(id);
    if (found.owner !== caller.name && !roleSatisfies(caller.role, 'admin')) {
      throw new NsgateError('FORBIDDEN', `pressure trigger ${id} is ${found.owner}'s; only it or an admin may delete it`, { id, owner: found.owner });
    }
    this.triggers.remove(id);
    this.registrations.delete(id);
    return found;
  }
}

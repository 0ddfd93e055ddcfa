import { Inject, Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { type Config } from '../config/config.js';
import { CONFIG } from '../config/config.module.js';
import type { Caller } from '../auth/roles.js';
import { type Page, paginate } from '../common/pagination.js';
import { perRequest } from '../common/request-cache.js';
import { recogniseMemberships } from '../kernel/containers/runtimes.js';
import { NsgateError } from '../kernel/errors.js';
import { readProcessEnviron } from '../kernel/procfs/environ.js';
import { NAMESPACE_TYPES } from '../kernel/procfs/namespace-types.js';
import { readProcessStat } from '../kernel/procfs/stat.js';
import { type ProcessClock, readProcessClock } from '../kernel/procfs/start-time.js';
import { readProcessStatus } from '../kernel/procfs/status.js';
import { readUserNames } from '../kernel/procfs/user-names.js';
import { readProcessCmdline } from '../kernel/procfs/cmdline.js';
import { readProcessRecord } from '../kernel/scan/process-partition.js';
import type { ProcessRecord } from '../kernel/scan/process-record.js';
import { ProcessScanner } from '../kernel/scan/process-scanner.js';
import type { ProcessListQuery } from './dto/process-list.query.js';
import type { AncestorModel, EnvironmentModel, NamespaceInodesModel, ProcessDetailModel, ProcessModel, ProcessStatusModel } from './process.models.js';

/** pstree -s never needs more: pid namespaces nest at most 32 deep, and chains are short. */
const MAX_ANCESTORS = 4096;

export function toProcessModel(record: ProcessRecord): ProcessModel {
  const container = recogniseMemberships(record.cgroups);
  return {
    pid: record.pid,
    ppid: record.ppid,
    startTime: record.startTime,
    user: record.user,
    uid: record.uid,
    comm: record.comm,
    cmdline: record.cmdline,
    state: record.state,
    threads: record.threads,
    kernelThread: record.kernelThread,
    namespaces: Object.fromEntries(NAMESPACE_TYPES.map((t) => [t, record.namespaces[t] === null ? null : Number(record.namespaces[t])])) as unknown as NamespaceInodesModel,
    cgroups: record.cgroups.map((c) => ({ hierarchy: c.hierarchyId, controllers: c.controllers, path: c.path })),
    containerId: container?.id ?? null,
    containerRuntime: container?.runtime ?? null,
    nspid: record.nspid,
  };
}

/** A container id or an id prefix, as `?container=` takes it without asking the engine. */
const HEX_ID = /^[0-9a-f]{4,64}$/;

/** Processes read for one request, by pid (null: gone when read). */
export interface ProcessReads {
  models: Map<number, ProcessModel | null>;
  userNames?: ReadonlyMap<number, string>;
}

/** One request's reads (one GraphQL query shares them between its resolvers). */
export function requestReads(req: object | undefined): ProcessReads {
  return perRequest(req, 'processReads', () => ({ models: new Map() }));
}

@Injectable()
export class ProcessesService {
  private readonly clock: ProcessClock;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly scanner: ProcessScanner,
    private readonly modules: ModuleRef,
  ) {
    this.clock = readProcessClock({ procRoot: config.procRoot });
  }

  /**
   * A container name to its id, through the containers module's live model. Looked up when
   * needed, not injected or imported: the containers module builds on this one (its processes
   * are these), and a static import both ways would be a cycle.
   */
  private async containerIdOf(name: string): Promise<string> {
    const { ContainersService } = await import('../containers/containers.service.js');
    return this.modules.get(ContainersService, { strict: false }).idOf(name);
  }

  /** Every process (a fresh scan unless maxAgeMs allows a recent one), filtered. */
  async all(query: Omit<ProcessListQuery, 'limit' | 'cursor'> = {}): Promise<ProcessModel[]> {
    const snapshot = await this.scanner.processes({ maxAgeMs: query.maxAgeMs });
    let items = snapshot.processes.map(toProcessModel);
    if (query.container) {
      const prefix = HEX_ID.test(query.container) ? query.container : await this.containerIdOf(query.container);
      items = items.filter((p) => p.containerId?.startsWith(prefix));
    }
    if (query.namespace) {
      const [type, inode] = query.namespace.split(':') as [keyof NamespaceInodesModel, string];
      items = items.filter((p) => p.namespaces[type] === Number(inode));
    }
    if (query.cgroup) {
      const under = query.cgroup.replace(/\/+$/, '');
      items = items.filter((p) => p.cgroups.some((c) => c.path === (under || '/') || c.path.startsWith(`${under}/`)));
    }
    return items;
  }

  async list(query: ProcessListQuery): Promise<Page<ProcessModel>> {
    return paginate(await this.all(query), query.limit, query.cursor);
  }

  /** One process, read now from its own /proc files (no scan). */
  one(pid: number, userNames: ReadonlyMap<number, string> = readUserNames()): ProcessModel {
    return toProcessModel(readProcessRecord(pid, this.config.procRoot, this.clock, userNames));
  }

  /**
   * The processes of a pid list that still exist, read now; one that exited meanwhile is left out.
   * `reads` carries what was read already: a GraphQL query meeting one process on many edges
   * (every namespace of every process lists its members) reads it once, not once per edge.
   */
  existing(pids: Iterable<number>, reads: ProcessReads = { models: new Map() }): ProcessModel[] {
    const out: ProcessModel[] = [];
    for (const pid of pids) {
      let model = reads.models.get(pid);
      if (model === undefined) {
        reads.userNames ??= readUserNames();
        try {
          model = this.one(pid, reads.userNames);
        } catch (err) {
          if (!(err instanceof NsgateError && err.code === 'PROCESS_NOT_FOUND')) throw err;
          model = null;
        }
        reads.models.set(pid, model);
      }
      if (model) out.push(model);
    }
    return out;
  }

  detail(pid: number): ProcessDetailModel {
    return { ...this.one(pid), status: this.status(pid), ancestors: this.ancestors(pid) };
  }

  status(pid: number): ProcessStatusModel {
    const s = readProcessStatus(pid, { procRoot: this.config.procRoot });
    return { stateName: s.stateName, tgid: s.tgid, uid: s.uid, gid: s.gid, seccomp: s.seccomp, noNewPrivs: s.noNewPrivs };
  }

  /** The parent chain, parent first, as `pstree -s` shows it; stops where a parent has exited. */
  ancestors(pid: number): AncestorModel[] {
    const out: AncestorModel[] = [];
    let ppid = readProcessStat(pid, { procRoot: this.config.procRoot }).ppid;
    while (ppid > 0 && out.length < MAX_ANCESTORS) {
      try {
        const stat = readProcessStat(ppid, { procRoot: this.config.procRoot });
        out.push({ pid: ppid, comm: stat.comm, cmdline: readProcessCmdline(ppid, { procRoot: this.config.procRoot }) });
        ppid = stat.ppid;
      } catch (err) {
        if (err instanceof NsgateError && err.code === 'PROCESS_NOT_FOUND') break;
        throw err;
      }
    }
    return out;
  }

  /** Keys for everyone allowed here; values only for an admin who asks (the route audits it). */
  environ(pid: number, reveal: boolean, caller: Caller): EnvironmentModel {
    if (reveal && caller.role !== 'admin') {
      throw new NsgateError('FORBIDDEN', `environment values need the admin role; ${caller.name} has ${caller.role}`, { required: 'admin' });
    }
    const variables = readProcessEnviron(pid, { procRoot: this.config.procRoot });
    return { pid, revealed: reveal, variables: variables.map((v) => ({ key: v.key, value: reveal ? v.value : null })) };
  }
}

import { Injectable } from '@nestjs/common';
import { type Page, paginate } from '../common/pagination.js';
import { NsgateError } from '../kernel/errors.js';
import { membersOf } from '../kernel/namespaces.js';
import { isNamespaceType, type NamespaceType } from '../kernel/procfs/namespace-types.js';
import type { NamespaceEntry } from '../kernel/namespaces.js';
import { ProcessScanner } from '../kernel/scan/process-scanner.js';
import type { NamespaceSnapshot } from '../kernel/scan/snapshots.js';
import { type ProcessReads, ProcessesService } from '../processes/processes.service.js';
import type { ProcessModel } from '../processes/process.models.js';
import type { NamespaceListQuery } from './dto/namespace.query.js';
import type { NamespaceDetailModel, NamespaceModel } from './namespace.models.js';

function toModel(entry: NamespaceEntry): NamespaceModel {
  return { type: entry.type, inode: Number(entry.inode), processCount: entry.processCount, pid: entry.pid, command: entry.command, user: entry.user };
}

@Injectable()
export class NamespacesService {
  constructor(
    private readonly scanner: ProcessScanner,
    private readonly processes: ProcessesService,
  ) {}

  snapshot(maxAgeMs?: number): Promise<NamespaceSnapshot> {
    return this.scanner.namespaces({ maxAgeMs });
  }

  async list(query: NamespaceListQuery): Promise<Page<NamespaceModel>> {
    const snapshot = await this.snapshot(query.maxAgeMs);
    const items = snapshot.namespaces.filter((n) => !query.type || n.type === query.type).map(toModel);
    return paginate(items, query.limit, query.cursor);
  }

  /** One namespace of a snapshot, or NAMESPACE_NOT_FOUND. */
  find(snapshot: NamespaceSnapshot, type: string, inode: number): NamespaceModel {
    const entry = snapshot.namespaces.find((n) => n.type === type && n.inode === String(inode));
    if (!entry) throw new NsgateError('NAMESPACE_NOT_FOUND', `no process is in ${type} namespace ${inode}`, { type, inode });
    return toModel(entry);
  }

  memberPids(snapshot: NamespaceSnapshot, type: NamespaceType, inode: number): number[] {
    return membersOf(snapshot.memberships, type, String(inode));
  }

  /** Every process in it, read now; one that exited since the scan is left out. */
  members(pids: readonly number[], reads?: ProcessReads): ProcessModel[] {
    return this.processes.existing(pids, reads);
  }

  async detail(type: string, inode: number): Promise<NamespaceDetailModel> {
    if (!isNamespaceType(type)) throw new NsgateError('VALIDATION_FAILED', `type must be one of cgroup, ipc, mnt, net, pid, time, user, uts`);
    const snapshot = await this.snapshot();
    const namespace = this.find(snapshot, type, inode);
    const processes = this.members(this.memberPids(snapshot, type, inode)).map((p) => ({
      pid: p.pid,
      pidInNamespace: p.nspid[p.nspid.length - 1] ?? p.pid,
      nspid: p.nspid,
      comm: p.comm,
      cmdline: p.cmdline,
      user: p.user,
      containerId: p.containerId,
    }));
    return { ...namespace, processes };
  }
}

import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { type Caller, roleSatisfies } from '../auth/roles.js';
import { type Page, paginate } from '../common/pagination.js';
import type { CgroupInfo, LimitsUpdate } from '../kernel/cgroups/system.js';
import { CgroupSystem } from '../kernel/cgroups/system.js';
import type { CgroupListQuery } from './dto/cgroup-list.query.js';
import type { CgroupActionModel, CgroupNodeModel } from './cgroup.models.js';

/** Tree walks stop here; the page says so with truncated: true. */
const MAX_TREE_NODES = 10_000;

@Injectable()
export class CgroupsService {
  constructor(
    private readonly system: CgroupSystem,
    audit: AuditService,
  ) {
    // the ways back for changes whose completed audit line cannot be written (moves, deletes and
    // kills have none: the audit reserve keeps room for their lines instead)
    const pathOf = (target: string) => target.replace(/^cgroup:/, '');
    audit.registerReverter('cgroup.limits', (response, target) => this.system.revertLimits(pathOf(target), response as LimitsUpdate));
    audit.registerReverter('cgroup.create', (response) => this.system.delete((response as CgroupInfo).path));
    audit.registerReverter('cgroup.freeze', async (_, target) => void (await this.system.thaw(pathOf(target))));
    audit.registerReverter('cgroup.thaw', async (_, target) => void (await this.system.freeze(pathOf(target))));
  }

  list(query: CgroupListQuery): Page<CgroupNodeModel> & { truncated: boolean } {
    const tree = this.system.list({ under: query.under ?? '/', depth: query.depth ?? 1, maxNodes: MAX_TREE_NODES });
    return { ...paginate(tree.items, query.limit, query.cursor), truncated: tree.truncated };
  }

  get(path: string): CgroupInfo {
    return this.system.get(path);
  }

  create(path: string, limits: unknown): Promise<CgroupInfo> {
    return this.system.create(path, { limits });
  }

  async delete(path: string): Promise<CgroupActionModel> {
    await this.system.delete(path);
    return { path, result: 'deleted' };
  }

  /** Only an admin may pull a process out of cgroups nsgate does not manage. */
  async move(path: string, pid: number, caller: Caller): Promise<CgroupActionModel> {
    const moved = await this.system.moveProcess(path, pid, { fromUnmanaged: roleSatisfies(caller.role, 'admin') });
    return { path: moved.path, result: 'moved', pid: moved.pid };
  }

  async freeze(path: string): Promise<CgroupActionModel> {
    return { path, result: 'frozen', freezer: await this.system.freeze(path) };
  }

  async thaw(path: string): Promise<CgroupActionModel> {
    return { path, result: 'thawed', freezer: await this.system.thaw(path) };
  }

  async kill(path: string): Promise<CgroupActionModel> {
    const killed = await this.system.kill(path);
    return { path, result: 'killed', signalled: killed.signalled, viaCgroupKill: killed.viaCgroupKill };
  }
}

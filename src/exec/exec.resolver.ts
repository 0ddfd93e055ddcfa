import { Args, Int, Mutation, Query, Resolver } from '@nestjs/graphql';
import { Audit } from '../audit/audit.decorator.js';
import { Allow } from '../auth/auth.decorator.js';
import { NsgateError } from '../kernel/errors.js';
import { ExecBody, SandboxBody } from './dto/exec.dto.js';
import { ExecResultModel, SandboxDetailModel } from './exec.models.js';
import { execOutcome, ExecService } from './exec.service.js';

@Resolver()
export class ExecResolver {
  constructor(private readonly service: ExecService) {}

  @Mutation(() => ExecResultModel, { description: 'Run argv in a process\'s (pid) or a container\'s (container) namespaces' })
  @Allow('admin')
  @Audit('exec', (i) => (i.args.container !== undefined && i.args.container !== null ? `container:${String(i.args.container)}` : `process:${String(i.args.pid)}`), undefined, execOutcome)
  exec(
    @Args('command') command: ExecBody,
    @Args('pid', { type: () => Int, nullable: true }) pid?: number,
    @Args('container', { type: () => String, nullable: true }) container?: string,
  ): Promise<ExecResultModel> {
    if ((pid === undefined || pid === null) === (container === undefined || container === null)) {
      throw new NsgateError('VALIDATION_FAILED', 'give exactly one of pid and container');
    }
    return container ? this.service.execInContainer(container, command) : this.service.execInProcess(pid!, command);
  }

  @Query(() => [SandboxDetailModel])
  @Allow('admin')
  sandboxes(): SandboxDetailModel[] {
    return this.service.listSandboxes();
  }

  @Mutation(() => SandboxDetailModel)
  @Allow('admin')
  @Audit('sandbox.create', () => 'sandbox:new', undefined, (r) => ({ id: (r as SandboxDetailModel).id, pid: (r as SandboxDetailModel).pid }))
  createSandbox(@Args('sandbox') sandbox: SandboxBody): Promise<SandboxDetailModel> {
    return this.service.createSandbox(sandbox);
  }

  @Mutation(() => SandboxDetailModel)
  @Allow('admin')
  @Audit('sandbox.delete', (i) => `sandbox:${String(i.args.id)}`)
  deleteSandbox(@Args('id') id: string): Promise<SandboxDetailModel> {
    return this.service.deleteSandbox(id);
  }
}

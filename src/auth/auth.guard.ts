import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { actionOf, AUDIT_KEY, type AuditSpec, safeTarget } from '../audit/audit.decorator.js';
import { AuditService } from '../audit/audit.service.js';
import { inputOf, requestIdOf, requestOf } from '../common/request-context.js';
import { NsgateError } from '../kernel/errors.js';
import { ACTION_ROLES_KEY, type ActionRoles, ROLE_KEY, type RoleRequirement } from './auth.decorator.js';
import { AuthService } from './auth.service.js';
import { type Caller, type Role, roleSatisfies } from './roles.js';

/**
 * The one guard, for REST routes and GraphQL fields alike. Deny by default: a handler
 * that declares no role is refused even to an admin. A refused mutation is audited here,
 * before the error is sent, since the audit interceptor never runs for it: in the refusal log,
 * without its body, rate-limited per client address.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly auth: AuthService,
    private readonly audit: AuditService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const required = this.reflector.getAllAndOverride<RoleRequirement | undefined>(ROLE_KEY, [context.getHandler(), context.getClass()]);
    if (required === 'public') return true;
    const req = requestOf(context);
    let caller: Caller | null = req.caller ?? null;
    try {
      if (!caller) {
        caller = this.auth.authenticate(req.headers.authorization);
        req.caller = caller;
      }
      if (required === undefined) throw new NsgateError('ROLE_NOT_DECLARED', 'this handler declares no role, so it is refused');
      const needed = this.actionRole(context) ?? required;
      if (!roleSatisfies(caller.role, required) || !roleSatisfies(caller.role, needed)) {
        const role = roleSatisfies(needed, required) ? needed : required;
        throw new NsgateError('FORBIDDEN', `needs the ${role} role; ${caller.name} has ${caller.role}`, { required: role, role: caller.role });
      }
      return true;
    } catch (err) {
      await this.auditRefusal(context, caller, err as NsgateError);
      throw err;
    }
  }

  /** The raised role of this call's action, where the handler declares one. */
  private actionRole(context: ExecutionContext): Role | undefined {
    const byAction = this.reflector.get<ActionRoles | undefined>(ACTION_ROLES_KEY, context.getHandler());
    const spec = byAction && this.reflector.get<AuditSpec | undefined>(AUDIT_KEY, context.getHandler());
    if (!spec) return undefined;
    const input = inputOf(context);
    // an action audited only on a condition (?reveal=true) raises the role only then
    if (spec.when && !spec.when(input)) return undefined;
    return byAction[actionOf(spec, input)];
  }

  private async auditRefusal(context: ExecutionContext, caller: Caller | null, err: NsgateError): Promise<void> {
    const spec = this.reflector.get<AuditSpec | undefined>(AUDIT_KEY, context.getHandler());
    if (!spec) return;
    const input = inputOf(context);
    if (spec.when && !spec.when(input)) return;
    const req = requestOf(context);
    // no body: a refused caller must not be able to fill the log (issue 16); never fails the answer
    await this.audit.recordRefusal(
      {
        requestId: requestIdOf(req),
        caller,
        action: actionOf(spec, input),
        target: safeTarget(spec, input),
        stage: 'completed',
        result: 'denied',
        errorCode: err.code,
      },
      String(req.ip ?? 'unknown'),
    );
  }
}

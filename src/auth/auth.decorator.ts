import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Role } from './roles.js';

export const ROLE_KEY = 'nsgate:role';
/** Higher roles for some of the actions one handler serves, keyed by the action it is audited under. */
export const ACTION_ROLES_KEY = 'nsgate:action-roles';
export type ActionRoles = Readonly<Record<string, Role>>;
export type RoleRequirement = Role | 'public';

/**
 * Declares who may call a route or resolver. The global guard refuses anything that
 * declares nothing, so every handler must carry one of these. `byAction` raises the role for
 * some actions of a handler that serves several (POST /v1/cgroups/{path}/-/kill is admin's).
 */
export function Allow(role: Role, byAction?: ActionRoles) {
  return applyDecorators(
    SetMetadata(ROLE_KEY, role),
    ...(byAction ? [SetMetadata(ACTION_ROLES_KEY, byAction)] : []),
    ApiBearerAuth(),
    ApiUnauthorizedResponse({ description: 'No token, or an unknown token' }),
    ApiForbiddenResponse({ description: `Needs the ${role} role${byAction ? ` (${Object.entries(byAction).map(([a, r]) => `${a}: ${r}`).join(', ')})` : ''}` }),
  );
}

/** A route anyone may call without a token (only the health checks). */
export function Public() {
  return SetMetadata(ROLE_KEY, 'public' satisfies RoleRequirement);
}

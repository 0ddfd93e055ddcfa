import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiExtension } from '@nestjs/swagger';
import { PUBLIC_EXTENSION, REQUIRED_ROLE_EXTENSION, ROLE_BY_ACTION_EXTENSION } from '../docs/openapi-extensions.js';
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
    // the OpenAPI document's x-required-role, security and 401/403/429 answers (openapi-document.ts)
    ApiBearerAuth(),
    ApiExtension(REQUIRED_ROLE_EXTENSION, role),
    ...(byAction ? [ApiExtension(ROLE_BY_ACTION_EXTENSION, byAction)] : []),
  );
}

/**
 * A route anyone may call without a token: the health checks, and the API's description
 * (/docs, /openapi.json: they describe routes, not the host). Not rate-limited.
 */
export function Public() {
  return applyDecorators(SetMetadata(ROLE_KEY, 'public' satisfies RoleRequirement), ApiExtension(PUBLIC_EXTENSION, true));
}

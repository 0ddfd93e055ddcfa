import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiForbiddenResponse, ApiUnauthorizedResponse } from '@nestjs/swagger';
import type { Role } from './roles.js';

export const ROLE_KEY = 'nsgate:role';
export type RoleRequirement = Role | 'public';

/**
 * Declares who may call a route or resolver. The global guard refuses anything that
 * declares nothing, so every handler must carry one of these.
 */
export function Allow(role: Role) {
  return applyDecorators(
    SetMetadata(ROLE_KEY, role),
    ApiBearerAuth(),
    ApiUnauthorizedResponse({ description: 'No token, or an unknown token' }),
    ApiForbiddenResponse({ description: `Needs the ${role} role` }),
  );
}

/** A route anyone may call without a token (only the health checks). */
export function Public() {
  return SetMetadata(ROLE_KEY, 'public' satisfies RoleRequirement);
}

/**
 * Extensions the decorators put on each OpenAPI operation (@Allow, @Public, @Audit, @ApiErrors),
 * read by the rules of openapi-document.ts. A file without imports, so any decorator can use it.
 */
export const REQUIRED_ROLE_EXTENSION = 'x-required-role';
export const ROLE_BY_ACTION_EXTENSION = 'x-required-role-by-action';
export const PUBLIC_EXTENSION = 'x-public';
export const AUDITED_EXTENSION = 'x-audited';
export const ERROR_CODES_EXTENSION = 'x-error-codes';

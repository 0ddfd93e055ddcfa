export const Roles = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof Roles)[number];

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (Roles as readonly string[]).includes(value);
}

/** Whether a caller holding `held` may do what needs `needed`. */
export function roleSatisfies(held: Role, needed: Role): boolean {
  return RANK[held] >= RANK[needed];
}

/** Who is calling, as authenticated from a bearer token. */
export interface Caller {
  name: string;
  role: Role;
}

import { NsgateError } from '../kernel/errors.js';
import type { HandlerInput } from '../common/request-context.js';

/** The actions a POST or PATCH may name after the last "/-/" of a cgroup URL. */
export const CGROUP_ACTIONS = ['limits', 'processes', 'freeze', 'thaw', 'kill'] as const;
export type CgroupAction = (typeof CGROUP_ACTIONS)[number];

/** The cgroup path of a wildcard URL remainder: "nsgate/a" → "/nsgate/a". */
export function cgroupPathOf(rest: unknown): string {
  const text = typeof rest === 'string' ? rest : '';
  return `/${text}`.replace(/\/+$/, '') || '/';
}

/**
 * "nsgate/a/-/limits" → { path: "/nsgate/a", action: "limits" }. The last "/-/" separates,
 * so a cgroup named "-" can still be read, created and deleted.
 */
export function splitAction(rest: unknown, allowed: readonly CgroupAction[]): { path: string; action: CgroupAction } {
  const text = typeof rest === 'string' ? rest : '';
  const at = text.lastIndexOf('/-/');
  const action = at >= 0 ? text.slice(at + 3) : '';
  if (at < 0 || !(allowed as readonly string[]).includes(action)) {
    throw new NsgateError('ROUTE_NOT_FOUND', `no such action; this method takes /v1/cgroups/{path}/-/{${allowed.join('|')}}`, { allowed });
  }
  return { path: cgroupPathOf(text.slice(0, at)), action: action as CgroupAction };
}

/**
 * A GET of "{path}/-/{action}" for one of the read actions other modules serve (history,
 * recommendation); null for a plain cgroup read, so a cgroup named "-" still reads as itself.
 */
export function readActionOf(rest: unknown, actions: readonly string[]): { path: string; action: string } | null {
  // a leading "/" so the root's "-/history" reads as the root's action
  const text = `/${typeof rest === 'string' ? rest : ''}`;
  const at = text.lastIndexOf('/-/');
  if (at < 0 || !actions.includes(text.slice(at + 3))) return null;
  return { path: cgroupPathOf(text.slice(1, Math.max(1, at))), action: text.slice(at + 3) };
}

export function auditTarget(input: HandlerInput): string {
  const rest = String(input.params['*'] ?? input.args.path ?? '');
  const at = rest.lastIndexOf('/-/');
  const path = input.args.path !== undefined ? String(input.args.path) : cgroupPathOf(at >= 0 ? rest.slice(0, at) : rest);
  return `cgroup:${path}`;
}

export function auditAction(input: HandlerInput): string {
  const rest = String(input.params['*'] ?? '');
  const at = rest.lastIndexOf('/-/');
  return `cgroup.${at >= 0 ? rest.slice(at + 3) : 'unknown'}`;
}

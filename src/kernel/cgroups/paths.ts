import { NsgateError } from '../errors.js';

/** The cgroups nsgate may change when nothing else is configured (NSGATE_MANAGED_CGROUPS). */
export const DEFAULT_MANAGED_CGROUPS: readonly string[] = ['/nsgate'];

const MAX_PATH_LENGTH = 4096;
const MAX_NAME_LENGTH = 255;

function invalid(path: string, reason: string): NsgateError {
  return new NsgateError('CGROUP_PATH_INVALID', `invalid cgroup path: ${reason}`, { path: printable(path), reason });
}

/** Control characters would forge log lines and error messages: show them escaped. */
function printable(path: string): string {
  return JSON.stringify(path.length > 300 ? `${path.slice(0, 300)}...` : path).slice(1, -1);
}

/**
 * A cgroup path as the kernel writes it in /proc/PID/cgroup ("/nsgate/a"), checked and in one
 * spelling. Refused: no leading slash, "..", ".", "//", NUL, newlines or any control
 * character, names over 255 bytes. One trailing slash is dropped ("/nsgate/" is "/nsgate").
 */
export function parseCgroupPath(input: unknown): string {
  if (typeof input !== 'string') throw invalid(String(input), 'not a string');
  if (input.length > MAX_PATH_LENGTH) throw invalid(input, `longer than ${MAX_PATH_LENGTH} characters`);
  if (input.includes('\0')) throw invalid(input, 'contains NUL');
  if (/[\n\r]/.test(input)) throw invalid(input, 'contains a newline');
  if (/[\x00-\x1f\x7f]/.test(input)) throw invalid(input, 'contains a control character');
  if (!input.startsWith('/')) throw invalid(input, 'must start with "/"');
  if (input === '/') return '/';
  if (input.includes('//')) throw invalid(input, 'contains "//"');
  const trimmed = input.endsWith('/') ? input.slice(0, -1) : input;
  for (const name of trimmed.slice(1).split('/')) {
    if (name === '..') throw invalid(input, 'contains ".."');
    if (name === '.') throw invalid(input, 'contains "."');
    if (name === '') throw invalid(input, 'contains an empty name');
    if (Buffer.byteLength(name) > MAX_NAME_LENGTH) throw invalid(input, `a name is longer than ${MAX_NAME_LENGTH} bytes`);
  }
  return trimmed;
}

/** "/a/b/c" -> ["/a", "/a/b", "/a/b/c"]; "/" -> []. */
export function pathChain(path: string): string[] {
  if (path === '/') return [];
  const names = path.slice(1).split('/');
  return names.map((_, i) => `/${names.slice(0, i + 1).join('/')}`);
}

export function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function joinCgroupPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/**
 * The managed prefixes in one spelling. The root "/" is refused: managing it would hand every
 * cgroup on the host (systemd's, Docker's, other tenants') to nsgate's operators.
 */
export function normalizeManagedPrefixes(prefixes: readonly string[]): string[] {
  const out = new Set<string>();
  for (const p of prefixes) {
    const path = parseCgroupPath(p.trim());
    if (path === '/') throw invalid(p, 'the root cgroup cannot be managed');
    out.add(path);
  }
  return [...out];
}

/** True when `path` is a managed prefix or below one ("/nsgate" manages "/nsgate" and "/nsgate/x", not "/nsgatex"). */
export function isManaged(path: string, managed: readonly string[]): boolean {
  return managed.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));
}

export function assertManaged(path: string, managed: readonly string[]): void {
  if (!isManaged(path, managed)) {
    throw new NsgateError('CGROUP_NOT_MANAGED', `cgroup ${path} is not managed by nsgate; only ${managed.join(', ')} and below may be changed`, {
      path,
      managed: [...managed],
    });
  }
}

import { isIP } from 'node:net';
import { isAbsolute, join } from 'node:path';

/** nsgate's settings, read once at start from the environment (API.md, "Start"). */
export interface Config {
  listen: { host: string; port: number };
  dataDir: string;
  tokensFile: string;
  adminTokenFile: string;
  auditFile: string;
  auditMaxBytes: number;
  auditMaxFiles: number;
  /** Refused requests (401/403) are logged here, apart, so they can never rotate out a change. */
  auditRefusedFile: string;
  /** Refusal lines per client address per minute; beyond, one counter line says how many were dropped. */
  auditRefusalsPerMinute: number;
  /** Disk space held back (audit.log.reserve) for the completed lines of changes under way. */
  auditReserveBytes: number;
  managedCgroups: string[];
  /** nsgate's own cgroups: <this>/exec/<id> per exec, <this>/sandboxes/<id> per sandbox. */
  internalCgroup: string;
  dockerHost: string;
  /** How often the live container model lists the engine to heal what events missed (NSGATE_CONTAINER_RECONCILE_MS). */
  containerReconcileMs: number;
  procRoot: string;
  bodyLimitBytes: number;
  /** Worker threads a /proc scan is split across. */
  scanWorkers: number;
  /** Requests per caller per minute before 429 RATE_LIMITED. */
  rateLimitPerMinute: number;
  logLevel: string;
}

export class ConfigError extends Error {
  constructor(readonly variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads and validates the configuration; throws ConfigError naming the bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = absolutePath(env, 'NSGATE_DATA_DIR', '/var/lib/nsgate');
  return {
    listen: parseListen(env.NSGATE_LISTEN ?? '127.0.0.1:7070'),
    dataDir,
    tokensFile: absolutePath(env, 'NSGATE_TOKENS_FILE', join(dataDir, 'tokens.json')),
    adminTokenFile: join(dataDir, 'admin.token'),
    auditFile: join(dataDir, 'audit.log'),
    auditMaxBytes: positiveInt(env, 'NSGATE_AUDIT_MAX_BYTES', 64 * 1024 * 1024),
    auditMaxFiles: positiveInt(env, 'NSGATE_AUDIT_MAX_FILES', 5),
    auditRefusedFile: join(dataDir, 'audit-refused.log'),
    auditRefusalsPerMinute: positiveInt(env, 'NSGATE_AUDIT_REFUSALS_PER_MINUTE', 60),
    auditReserveBytes: nonNegativeInt(env, 'NSGATE_AUDIT_RESERVE_BYTES', 1024 * 1024),
    managedCgroups: parseCgroupPaths(env.NSGATE_MANAGED_CGROUPS ?? '/nsgate'),
    internalCgroup: parseCgroupPaths(env.NSGATE_INTERNAL_CGROUP ?? '/nsgate', 'NSGATE_INTERNAL_CGROUP')[0]!,
    dockerHost: parseDockerHost(env.DOCKER_HOST),
    containerReconcileMs: positiveInt(env, 'NSGATE_CONTAINER_RECONCILE_MS', 10_000),
    procRoot: absolutePath(env, 'NSGATE_PROC_ROOT', '/proc'),
    bodyLimitBytes: positiveInt(env, 'NSGATE_BODY_LIMIT_BYTES', 64 * 1024),
    rateLimitPerMinute: positiveInt(env, 'NSGATE_RATE_LIMIT', 6000),
    scanWorkers: positiveInt(env, 'NSGATE_SCAN_WORKERS', 2),
    logLevel: oneOf(env, 'NSGATE_LOG_LEVEL', LOG_LEVELS, 'info'),
  };
}

function parseListen(value: string): Config['listen'] {
  const fail = (): never => {
    throw new ConfigError('NSGATE_LISTEN', `"${value}" is not host:port (e.g. 127.0.0.1:7070 or [::1]:7070)`);
  };
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value.trim());
  if (!match) fail();
  const host = (match![1] ?? match![2])!;
  const port = Number(match![3]);
  if (port < 1 || port > 65535) fail();
  if (match![1] !== undefined && isIP(host) !== 6) fail();
  if (match![2] !== undefined && isIP(host) === 0 && !/^[a-zA-Z0-9.-]+$/.test(host)) fail();
  return { host, port };
}

function parseCgroupPaths(value: string, variable = 'NSGATE_MANAGED_CGROUPS'): string[] {
  const items = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (items.length === 0) throw new ConfigError(variable, 'must name at least one cgroup path');
  return items.map((item) => {
    const normalized = item.replace(/\/+$/, '');
    if (
      !normalized.startsWith('/') ||
      normalized === '' ||
      normalized.split('/').slice(1).some((part) => part === '' || part === '.' || part === '..') ||
      /[\0\n]/.test(normalized)
    ) {
      throw new ConfigError(variable, `"${item}" is not an absolute cgroup path below the root (e.g. /nsgate)`);
    }
    return normalized;
  });
}

function parseDockerHost(value: string | undefined): string {
  const host = value && value.trim() !== '' ? value.trim() : 'unix:///var/run/docker.sock';
  if (!/^(unix:\/\/\/.+|tcp:\/\/[^/]+|http:\/\/[^/]+)$/.test(host)) {
    throw new ConfigError('DOCKER_HOST', `"${host}" is not unix:///path or tcp://host:port`);
  }
  return host;
}

function absolutePath(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (!isAbsolute(value)) throw new ConfigError(name, `"${value}" must be an absolute path`);
  return value;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new ConfigError(name, `"${value}" must be a positive integer`);
  }
  return Number(value);
}

function nonNegativeInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new ConfigError(name, `"${value}" must be an integer ≥ 0`);
  return Number(value);
}

function oneOf(env: NodeJS.ProcessEnv, name: string, allowed: string[], fallback: string): string {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if (!allowed.includes(value)) throw new ConfigError(name, `"${value}" must be one of ${allowed.join(', ')}`);
  return value;
}

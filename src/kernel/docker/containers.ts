import Docker from 'dockerode';
import { NsgateError } from '../errors.js';
import { dockerOptions, type DockerEngine } from './engine.js';

/*
 * Docker containers through the engine: list, resolve an id/prefix/name the way Docker
 * does, inspect, change limits with the update API (so `docker inspect` and the kernel agree),
 * and follow container events. Connection failures and timeouts are ENGINE_UNAVAILABLE
 * (DockerEngine.call); the engine's refusals become nsgate's codes here (mapEngineError).
 */

export interface ContainerSummary {
  id: string;
  /** The container's own name, without Docker's leading '/'. */
  name: string;
  /** Every name the engine lists (legacy links add "other/alias" ones), without the leading '/'. */
  names: string[];
  image: string;
  imageId: string;
  /** created, running, paused, restarting, removing, exited, dead. */
  state: string;
  /** Docker's human text ("Up 3 minutes"). */
  status: string;
  labels: Record<string, string>;
  createdAt: string;
}

export type ContainerInspect = Docker.ContainerInspectInfo;

/** At least this many hex digits make an id prefix; shorter ones are too easy to get wrong. */
export const MIN_ID_PREFIX = 4;
const FULL_ID = /^[0-9a-f]{64}$/;
const HEX = /^[0-9a-f]+$/;

function summaryOf(c: Docker.ContainerInfo): ContainerSummary {
  const names = (c.Names ?? []).map((n) => n.replace(/^\//, ''));
  return {
    id: c.Id,
    name: names.find((n) => !n.includes('/')) ?? names[0] ?? '',
    names,
    image: c.Image,
    imageId: c.ImageID,
    state: c.State,
    status: c.Status,
    labels: c.Labels ?? {},
    createdAt: new Date(c.Created * 1000).toISOString(),
  };
}

/** Running and stopped containers (all: false for running only), optionally filtered by label ("k" or "k=v"). */
export async function listContainers(
  engine: DockerEngine,
  options: { all?: boolean; labels?: string[] } = {},
): Promise<ContainerSummary[]> {
  const filters = options.labels?.length ? { label: options.labels } : undefined;
  try {
    const list = await engine.call(() => engine.client.listContainers({ all: options.all ?? true, ...(filters ? { filters } : {}) }));
    return list.map(summaryOf);
  } catch (err) {
    throw mapEngineError(err);
  }
}

/** What resolution needs of a container: its id and its own name (without the leading '/'). */
export interface NamedContainer {
  id: string;
  name: string;
}

/**
 * One container by what a user typed, in Docker's order: the full id; else the exact name
 * (with or without the leading '/'); else a unique id prefix. Docker accepts a prefix of any
 * length; here it needs MIN_ID_PREFIX hex digits (options.minPrefix), so "a" or "1" never
 * picks a container by luck. An ambiguous prefix is CONTAINER_AMBIGUOUS (400) with the
 * candidates; nothing is CONTAINER_NOT_FOUND (404). Pure: the engine's list or the live model
 * is the candidate set.
 */
export function pickContainer<T extends NamedContainer>(all: Iterable<T>, idOrName: string, options: { minPrefix?: number } = {}): T {
  const minPrefix = Math.max(1, options.minPrefix ?? MIN_ID_PREFIX);
  const wanted = idOrName.trim();
  const name = wanted.replace(/^\//, '');
  if (!name) throw new NsgateError('CONTAINER_NOT_FOUND', 'no container id or name given', { idOrName });
  const list = [...all];
  const byId = list.find((c) => c.id === name);
  if (byId) return byId;
  const byName = list.find((c) => c.name === name);
  if (byName) return byName;
  const lower = name.toLowerCase();
  if (HEX.test(lower) && lower.length >= minPrefix) {
    const matches = list.filter((c) => c.id.startsWith(lower));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) {
      throw new NsgateError('CONTAINER_AMBIGUOUS', `${matches.length} containers have ids starting with ${lower}`, {
        idOrName,
        candidates: matches.map((c) => ({ id: c.id, name: c.name })),
      });
    }
  }
  const details: Record<string, unknown> = { idOrName };
  if (HEX.test(lower) && lower.length < minPrefix) details.hint = `an id prefix needs at least ${minPrefix} hex digits`;
  throw new NsgateError('CONTAINER_NOT_FOUND', `no container ${idOrName}`, details);
}

/** pickContainer over the engine's list of every container. */
export async function resolveContainer(
  engine: DockerEngine,
  idOrName: string,
  options: { minPrefix?: number } = {},
): Promise<ContainerSummary> {
  if (!idOrName.trim().replace(/^\//, '')) throw new NsgateError('CONTAINER_NOT_FOUND', 'no container id or name given', { idOrName });
  return pickContainer(await listContainers(engine), idOrName, options);
}

/** docker inspect of a container by id, id prefix or name (resolved as resolveContainer does). */
export async function inspectContainer(engine: DockerEngine, idOrName: string): Promise<ContainerInspect> {
  const id = FULL_ID.test(idOrName) ? idOrName : (await resolveContainer(engine, idOrName)).id;
  try {
    return await engine.call(() => engine.client.getContainer(id).inspect());
  } catch (err) {
    throw mapEngineError(err, idOrName);
  }
}

// ---------------------------------------------------------------------------------------
// Limits

/** A container's limits as the engine keeps them (HostConfig), with unlimited/unset as null. */
export interface DockerLimits {
  /** Bytes; null when unlimited (0). */
  memory: number | null;
  /** Memory + swap in bytes (Docker's MemorySwap); null when unlimited (-1) or unset (0). */
  memorySwap: number | null;
  /** Cpus × 1e9; null when unset (0). */
  nanoCpus: number | null;
  /** Relative weight; null when unset (0: the kernel's 1024). */
  cpuShares: number | null;
  /** null when unlimited (unset, 0 or -1). */
  pidsLimit: number | null;
  /** CFS quota/period set directly (docker run --cpu-quota); they exclude nanoCpus. */
  cpuQuota: number | null;
  cpuPeriod: number | null;
}

export function dockerLimitsOf(info: Pick<ContainerInspect, 'HostConfig'>): DockerLimits {
  const h = info.HostConfig ?? {};
  const positive = (v: number | null | undefined) => (typeof v === 'number' && v > 0 ? v : null);
  return {
    memory: positive(h.Memory),
    memorySwap: positive(h.MemorySwap),
    nanoCpus: positive(h.NanoCpus),
    cpuShares: positive(h.CpuShares),
    pidsLimit: positive(h.PidsLimit),
    cpuQuota: positive(h.CpuQuota),
    cpuPeriod: positive(h.CpuPeriod),
  };
}

/** A requested change, in Docker's units and semantics; undefined leaves a limit as it is. */
export interface ContainerLimitsChange {
  /** Bytes, at least 6 MiB. The engine cannot remove a memory limit once set. */
  memory?: number;
  /** Memory + swap in bytes (not swap alone), at least `memory`; -1 for unlimited swap. */
  memorySwap?: number;
  /** Cpus × 1e9 (1.5 cpus = 1500000000), at least 0.01 cpu; the engine caps it at its cpu count. */
  nanoCpus?: number;
  /** 2 to 262144 (the kernel's range for cpu.shares). */
  cpuShares?: number;
  /** A positive count, or 0 / -1 for unlimited. */
  pidsLimit?: number;
}

/** The body of POST /containers/{id}/update. */
export interface EngineUpdateBody {
  Memory?: number;
  MemorySwap?: number;
  NanoCpus?: number;
  CpuShares?: number;
  PidsLimit?: number;
}

/** Docker's own lower limit (daemon linuxMinMemory). */
export const MIN_MEMORY_BYTES = 6 * 1024 * 1024;
export const MIN_NANO_CPUS = 10_000_000;
export const MIN_CPU_SHARES = 2;
export const MAX_CPU_SHARES = 262_144;

function invalid(message: string, details: Record<string, unknown>): NsgateError {
  return new NsgateError('LIMIT_INVALID', message, details);
}

/**
 * Checks a change against the engine's rules before anything is sent, and makes the body.
 * Refusals carry Docker's own wording where Docker has one. One engine quirk is smoothed
 * over: Docker refuses a memory-only update of a container whose MemorySwap is unset or
 * unlimited ("Memory limit should be smaller than already set memoryswap limit"), which is
 * every container started without --memory; such an update is sent with MemorySwap -1, which
 * keeps swap unlimited as it was.
 */
export function planLimitsUpdate(change: ContainerLimitsChange, current: DockerLimits): EngineUpdateBody {
  const body: EngineUpdateBody = {};
  const integer = (key: keyof ContainerLimitsChange): number | undefined => {
    const v = change[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalid(`${key} must be an integer, not ${String(v)}`, { [key]: v });
    return v;
  };
  const memory = integer('memory');
  const memorySwap = integer('memorySwap');
  const nanoCpus = integer('nanoCpus');
  const cpuShares = integer('cpuShares');
  const pidsLimit = integer('pidsLimit');

  if (memory === undefined && memorySwap === undefined && nanoCpus === undefined && cpuShares === undefined && pidsLimit === undefined) {
    throw invalid('no limit to change: give memory, memorySwap, nanoCpus, cpuShares or pidsLimit', {});
  }
  if (memory !== undefined) {
    if (memory < MIN_MEMORY_BYTES) {
      throw invalid(`Minimum memory limit allowed is 6MB (memory ${memory} < ${MIN_MEMORY_BYTES} bytes)`, { memory, minimum: MIN_MEMORY_BYTES });
    }
    body.Memory = memory;
  }
  const effectiveMemory = memory ?? current.memory;
  if (memorySwap !== undefined) {
    if (memorySwap !== -1 && memorySwap <= 0) {
      throw invalid('memorySwap is memory plus swap in bytes, or -1 for unlimited swap', { memorySwap });
    }
    if (memorySwap > 0 && effectiveMemory === null) {
      throw invalid('You should always set the Memory limit when using Memoryswap limit, see usage', { memorySwap });
    }
    if (memorySwap > 0 && effectiveMemory !== null && memorySwap < effectiveMemory) {
      throw invalid('Minimum memoryswap limit should be larger than memory limit, see usage', { memorySwap, memory: effectiveMemory });
    }
    body.MemorySwap = memorySwap;
  } else if (memory !== undefined) {
    if (current.memorySwap === null) body.MemorySwap = -1;
    else if (memory > current.memorySwap) {
      throw invalid('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time', {
        memory,
        memorySwap: current.memorySwap,
      });
    }
  }
  if (nanoCpus !== undefined) {
    if (nanoCpus < MIN_NANO_CPUS) {
      throw invalid(`Range of CPUs is from 0.01 (nanoCpus ${MIN_NANO_CPUS}); ${nanoCpus} is below it`, { nanoCpus, minimum: MIN_NANO_CPUS });
    }
    body.NanoCpus = nanoCpus;
  }
  if (cpuShares !== undefined) {
    if (cpuShares < MIN_CPU_SHARES || cpuShares > MAX_CPU_SHARES) {
      throw invalid(`cpuShares must be between ${MIN_CPU_SHARES} and ${MAX_CPU_SHARES}`, { cpuShares });
    }
    body.CpuShares = cpuShares;
  }
  if (pidsLimit !== undefined) {
    if (pidsLimit < -1) throw invalid('pidsLimit must be a positive count, or 0 / -1 for unlimited', { pidsLimit });
    body.PidsLimit = pidsLimit;
  }
  return body;
}

export interface ContainerLimitsUpdate {
  id: string;
  name: string;
  /** What the engine held before and holds after (docker inspect's HostConfig). */
  before: DockerLimits;
  after: DockerLimits;
  /** What was sent to the engine. */
  sent: EngineUpdateBody;
  /** The engine's warnings (e.g. a value it adjusted). */
  warnings: string[];
}

/**
 * Changes a container's limits through the engine's update API: resolve, inspect (before),
 * check (planLimitsUpdate), update, inspect (after). A refused change changes nothing.
 */
export async function updateContainerLimits(
  engine: DockerEngine,
  idOrName: string,
  change: ContainerLimitsChange,
): Promise<ContainerLimitsUpdate> {
  const info = await inspectContainer(engine, idOrName);
  const before = dockerLimitsOf(info);
  const body = planLimitsUpdate(change, before);
  let result: { Warnings?: string[] | null } | undefined;
  try {
    result = await engine.call(() => engine.client.getContainer(info.Id).update(body));
  } catch (err) {
    throw mapEngineError(err, idOrName);
  }
  const after = dockerLimitsOf(await inspectContainer(engine, info.Id));
  return { id: info.Id, name: info.Name.replace(/^\//, ''), before, after, sent: body, warnings: result?.Warnings ?? [] };
}

// ---------------------------------------------------------------------------------------
// The engine's refusals

/** Engine messages that are about a limit's value (the caller's mistake, not the engine's). */
const LIMIT_MESSAGES = [/minimum memory limit/i, /memoryswap/i, /memory limit should be/i, /range of cpus/i, /cpu shares/i, /pids.?limit/i];

/** The engine's own message, from the JSON body dockerode keeps, else from its error text. */
export function engineMessage(err: unknown): string {
  const e = err as { json?: unknown; message?: string };
  const json = e?.json;
  if (json && typeof json === 'object' && !Buffer.isBuffer(json) && typeof (json as { message?: unknown }).message === 'string') {
    return (json as { message: string }).message.trim();
  }
  if (typeof json === 'string' && json.trim()) return json.trim();
  if (Buffer.isBuffer(json) && json.length) return json.toString('utf8').trim();
  return (e?.message ?? String(err)).replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, '').trim();
}

/**
 * An engine error as nsgate's: 404 CONTAINER_NOT_FOUND; a 4xx about a limit's value
 * LIMIT_INVALID, other 4xx ENGINE_REJECTED; a 5xx where runc's cgroup write failed with
 * EINVAL LIMIT_INVALID, with EBUSY LIMIT_BELOW_USAGE (v1 cannot reclaim below usage); other
 * 5xx ENGINE_UNAVAILABLE. NsgateErrors and errors without an HTTP status pass through.
 */
export function mapEngineError(err: unknown, target?: string): unknown {
  if (err instanceof NsgateError) return err;
  const status = (err as { statusCode?: unknown })?.statusCode;
  if (typeof status !== 'number') return err;
  const message = engineMessage(err);
  const details: Record<string, unknown> = { engineStatus: status, engineMessage: message };
  if (target !== undefined) details.container = target;
  if (status === 404) return new NsgateError('CONTAINER_NOT_FOUND', message || `no container ${target ?? ''}`.trim(), details);
  if (status >= 400 && status < 500) {
    if (LIMIT_MESSAGES.some((m) => m.test(message))) return new NsgateError('LIMIT_INVALID', message, details);
    return new NsgateError('ENGINE_REJECTED', message, details);
  }
  if (/failed to write/i.test(message) && /invalid argument/i.test(message)) return new NsgateError('LIMIT_INVALID', message, details);
  // runc says EBUSY either as the write's error or, when it caught it, as runc's own sentence
  if ((/failed to write/i.test(message) && /device or resource busy/i.test(message)) || /unable to set memory limit to \d+ \(current usage/i.test(message)) {
    return new NsgateError('LIMIT_BELOW_USAGE', message, details);
  }
  return new NsgateError('ENGINE_UNAVAILABLE', `the Docker Engine failed: ${message}`, details);
}

// ---------------------------------------------------------------------------------------
// Events

export interface ContainerEvent {
  /** start, die, oom, ... (Docker's Action). */
  action: string;
  id: string;
  name?: string;
  image?: string;
  /** die events carry the exit code. */
  exitCode?: number;
  /** Docker's Actor.Attributes as sent: name, image, exitCode and the container's labels, mixed. */
  attributes: Record<string, string>;
  /** ISO time, to the ms. */
  time: string;
  /** Docker's ns since the epoch (a double: exact to about a µs). */
  timeNano: number;
}

export interface ContainerEventsOptions {
  /** Ends the iteration (quietly) and closes the stream. */
  signal?: AbortSignal;
  /** Default: start, die, oom. */
  actions?: string[];
  /** Label filters ("k" or "k=v"). */
  labels?: string[];
  /** Replay events since this time (reconnecting without a gap). */
  since?: Date;
  /** How long to wait for the engine to answer the request (the stream itself may stay quiet for hours). Default 5000 ms. */
  connectTimeoutMs?: number;
}

/**
 * The engine's container events as an async iterator. The events connection has no idle
 * timeout (DockerEngine's client would cut a quiet stream), only one for the engine to
 * answer. Ends quietly on abort or when the consumer stops iterating; a stream the engine
 * closes or breaks is ENGINE_UNAVAILABLE, so the consumer can reconnect with `since`.
 */
export async function* containerEvents(engine: DockerEngine, options: ContainerEventsOptions = {}): AsyncGenerator<ContainerEvent, void, undefined> {
  const { signal } = options;
  if (signal?.aborted) return;
  const client = new Docker({
    ...dockerOptions(engine.dockerHost, 0),
    timeout: undefined,
    connectionTimeout: options.connectTimeoutMs ?? 5000,
  } as Docker.DockerOptions);
  const filters: Record<string, string[]> = { type: ['container'], event: options.actions ?? ['start', 'die', 'oom'] };
  if (options.labels?.length) filters.label = options.labels;
  const query: Docker.GetEventsOptions & { abortSignal?: AbortSignal } = { filters };
  if (options.since) query.since = Math.floor(options.since.getTime() / 1000);
  if (signal) query.abortSignal = signal;

  let stream: NodeJS.ReadableStream;
  try {
    stream = await engine.call(() => client.getEvents(query));
  } catch (err) {
    if (signal?.aborted) return;
    throw mapEngineError(err);
  }
  const readable = stream as NodeJS.ReadableStream & { destroy?: () => void };
  const onAbort = () => readable.destroy?.();
  signal?.addEventListener('abort', onAbort, { once: true });
  let buffered = '';
  try {
    for await (const chunk of readable) {
      buffered += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (!line) continue;
        const event = parseEvent(line);
        if (event) yield event;
      }
    }
  } catch (err) {
    if (signal?.aborted) return;
    throw new NsgateError('ENGINE_UNAVAILABLE', `the Docker Engine's event stream broke: ${(err as Error).message}`, {
      reason: (err as Error).message,
    });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    readable.destroy?.();
  }
  if (signal?.aborted) return;
  throw new NsgateError('ENGINE_UNAVAILABLE', 'the Docker Engine closed its event stream', { reason: 'stream ended' });
}

function parseEvent(line: string): ContainerEvent | undefined {
  let raw: {
    Type?: string;
    Action?: string;
    status?: string;
    id?: string;
    Actor?: { ID?: string; Attributes?: Record<string, string> };
    time?: number;
    timeNano?: number;
  };
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (raw.Type !== undefined && raw.Type !== 'container') return undefined;
  const attributes = raw.Actor?.Attributes ?? {};
  const timeNano = raw.timeNano ?? (raw.time ?? 0) * 1e9;
  const event: ContainerEvent = {
    action: raw.Action ?? raw.status ?? '',
    id: raw.Actor?.ID ?? raw.id ?? '',
    attributes,
    time: new Date(Math.floor(timeNano / 1e6)).toISOString(),
    timeNano,
  };
  if (attributes.name !== undefined) event.name = attributes.name;
  if (attributes.image !== undefined) event.image = attributes.image;
  if (attributes.exitCode !== undefined && /^-?\d+$/.test(attributes.exitCode)) event.exitCode = Number(attributes.exitCode);
  return event;
}

// An example tuner: one pass of the loop a service that moves memory limits runs against nsgate.
// It reads a container's stats, plans a new memory limit with a dry run, applies it only if the
// limits did not move since it read them (If-Match), safely retried (Idempotency-Key), as a lease
// that puts the old limit back by itself if this tuner dies before it is sure (ttlSeconds), then
// watches the container for a while and keeps the change (DELETE /v1/leases/{id}).
//
// Every shape comes from the generated client (clients/nsgate-api.d.ts, from openapi.json): no
// hand-written request or answer types.
//
//   npm run tuner -- <container> [--headroom 0.5] [--ttl 120] [--watch-seconds 10]
//   (NSGATE_URL, default http://127.0.0.1:7070; NSGATE_TOKEN, an operator's token)
import createClient from 'openapi-fetch';
import { pathToFileURL } from 'node:url';
import type { paths } from '../clients/nsgate-api.js';

const MiB = 1024 * 1024;
/** Never below this: a limit under a few MiB kills a container at its next allocation. */
const FLOOR = 16 * MiB;

export interface TunerOptions {
  baseUrl: string;
  token: string;
  container: string;
  /** The limit is the working set times (1 + headroom), rounded up to a MiB. */
  headroom?: number;
  /** How long the new limit holds unless kept. */
  ttlSeconds?: number;
  /** How long to watch the container before keeping the change. */
  watchMs?: number;
  log?: (line: string) => void;
}

export type TunerOutcome =
  | { result: 'kept'; limit: number; before: number | null; leaseId: string }
  | { result: 'left-to-expire'; limit: number; before: number | null; leaseId: string; reason: string }
  | { result: 'unchanged'; reason: string };

export async function tuneMemory(options: TunerOptions): Promise<TunerOutcome> {
  const log = options.log ?? ((line: string) => console.log(line));
  const api = createClient<paths>({ baseUrl: options.baseUrl, headers: { authorization: `Bearer ${options.token}` } });
  const idOrName = options.container;
  const path = { idOrName };

  // 1. read: the limits' version, and what the container uses now
  const container = await api.GET('/v1/containers/{idOrName}', { params: { path } });
  if (!container.data) throw new Error(`read ${idOrName}: ${JSON.stringify(container.error)}`);
  const stats = await api.GET('/v1/containers/{idOrName}/stats', { params: { path } });
  if (!stats.data) throw new Error(`stats of ${idOrName}: ${JSON.stringify(stats.error)}`);
  const version = container.data.limitsVersion;
  const workingSet = stats.data.memory.workingSet ?? 0;
  const current = stats.data.memory.limit;
  const limit = Math.max(FLOOR, Math.ceil((workingSet * (1 + (options.headroom ?? 0.5))) / MiB) * MiB);
  log(`read    ${container.data.name}: working set ${mib(workingSet)}, limit ${current === null ? 'none' : mib(current)}, version ${version}`);
  if (current !== null && Math.abs(current - limit) < MiB) return { result: 'unchanged', reason: `the limit is already ${mib(current)}` };

  // 2. plan: what would be written, and what nsgate thinks of it
  const body = { memory: String(limit), ttlSeconds: options.ttlSeconds ?? 120 };
  const header = { 'If-Match': `"${version}"` };
  const plan = await api.PATCH('/v1/containers/{idOrName}/limits', { params: { path, query: { dryRun: 'true' }, header }, body });
  if (!plan.data) return { result: 'unchanged', reason: `the plan was refused: ${plan.error?.error.code} ${plan.error?.error.message}` };
  for (const w of plan.data.writes) log(`plan    ${w.field}: ${w.from} -> ${w.to}`);
  for (const f of plan.data.findings ?? []) log(`plan    ${f.severity} ${f.code}: ${f.message}`);
  if ((plan.data.findings ?? []).some((f) => f.severity === 'error')) return { result: 'unchanged', reason: 'the preflight found an error' };

  // 3. apply: only on the version read, once whatever the retries, as a lease
  const key = `tuner:${container.data.id}:${version}:${limit}`;
  const applied = await api.PATCH('/v1/containers/{idOrName}/limits', { params: { path, header: { ...header, 'Idempotency-Key': key } }, body });
  if (!applied.data) return { result: 'unchanged', reason: `the change was refused: ${applied.error?.error.code} ${applied.error?.error.message}` };
  const lease = applied.data.lease;
  if (!lease?.id) throw new Error('the change answered no lease');
  log(`applied memory ${applied.data.engineBefore.memory ?? 'none'} -> ${applied.data.engineAfter.memory} (kernel ${applied.data.after?.memory?.max}), lease ${lease.id} until ${lease.expiresAt}`);

  // 4. confirm: the container still runs and its cgroup saw no OOM kill while watched; then keep it
  const cgroup = { path: (container.data.cgroupPath ?? '/').slice(1) };
  const oomKills = async () => (await api.GET('/v1/cgroups/{path}', { params: { path: cgroup } })).data?.stats.memory?.oomKills ?? 0;
  const oomBefore = await oomKills();
  await new Promise((r) => setTimeout(r, options.watchMs ?? 10_000));
  const after = await api.GET('/v1/containers/{idOrName}/stats', { params: { path } });
  const killed = (await oomKills()) - oomBefore;
  if (!after.data || killed > 0) {
    const reason = after.data ? `${killed} OOM kill(s) while watched` : `stats failed: ${after.error?.error.code}`;
    log(`watch   ${reason}: the lease puts the old limit back at ${lease.expiresAt}`);
    return { result: 'left-to-expire', limit, before: current, leaseId: lease.id, reason };
  }
  const kept = await api.DELETE('/v1/leases/{id}', { params: { path: { id: lease.id } } });
  if (kept.error) throw new Error(`keep lease ${lease.id}: ${JSON.stringify(kept.error)}`);
  log(`kept    working set ${mib(after.data.memory.workingSet ?? 0)} under ${mib(limit)}, no OOM kill: lease ${lease.id} kept`);
  return { result: 'kept', limit, before: current, leaseId: lease.id };
}

function mib(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const option = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args.splice(i, 2)[1] : undefined;
  };
  const headroom = option('headroom');
  const ttl = option('ttl');
  const watch = option('watch-seconds');
  const container = args[0];
  const token = process.env.NSGATE_TOKEN;
  if (!container || !token) {
    console.error('usage: NSGATE_TOKEN=<operator token> npm run tuner -- <container> [--headroom 0.5] [--ttl 120] [--watch-seconds 10]');
    process.exit(2);
  }
  tuneMemory({
    baseUrl: process.env.NSGATE_URL ?? 'http://127.0.0.1:7070',
    token,
    container,
    headroom: headroom === undefined ? undefined : Number(headroom),
    ttlSeconds: ttl === undefined ? undefined : Number(ttl),
    watchMs: watch === undefined ? undefined : Number(watch) * 1000,
  }).then(
    (outcome) => console.log(JSON.stringify(outcome)),
    (err: unknown) => {
      console.error((err as Error).message);
      process.exit(1);
    },
  );
}

// Issue 16's fuzz target: random cgroup paths, limit bodies, exec bodies and GraphQL documents
// against the built service (dist/main.js) on this host's kernel and the private engine.
// Asserted per request: never a 5xx, every refusal in the one error shape. Per batch: the
// service answers /healthz. At the end: nothing outside the managed tree changed (the limit files
// of an unmanaged sentinel cgroup, of the managed tree's unmanaged parent and of the hierarchy
// roots, and the cgroups present outside the managed tree).
//
// Seeded and bounded: NSGATE_FUZZ_SEED (default below; printed) replays a run exactly;
// NSGATE_FUZZ_RUNS scales the number of requests per batch (default 1 = about 900 requests).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToken } from '../../src/auth/token-store.js';
import { cgroupHierarchies, cgroupDir } from './support/cgroupfs.js';
import { cgroupParent, makeTestCgroup, type TestCgroup } from './support/cgroups.js';
import { type RunningService, startService } from './support/service.js';

const SEED = Number(process.env.NSGATE_FUZZ_SEED ?? 16_016);
const SCALE = Math.max(0.1, Number(process.env.NSGATE_FUZZ_RUNS ?? 1));
const runs = (n: number) => Math.max(1, Math.round(n * SCALE));
/** A guard, not an assertion: a batch stops generating after this long (never a failure). */
const BATCH_TIME_LIMIT_MS = 12_000;

/** The files a change could touch, per hierarchy: snapshotted where they exist. */
const WATCHED = [
  'memory.limit_in_bytes',
  'memory.memsw.limit_in_bytes',
  'memory.max',
  'memory.high',
  'cpu.shares',
  'cpu.cfs_quota_us',
  'cpu.cfs_period_us',
  'cpu.max',
  'pids.max',
  'cpuset.cpus',
  'cpuset.mems',
  'freezer.state',
  'cgroup.freeze',
  'cgroup.procs',
  'cgroup.subtree_control',
];

function snapshot(paths: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of cgroupHierarchies()) {
    for (const path of paths) {
      const dir = cgroupDir(h, path);
      if (!dir || !existsSync(dir)) continue;
      // the hierarchy roots change all day (other tenants' cgroups and processes): only their limits count
      const root = path === '/';
      if (!root)
        out[`${dir}/`] = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort()
        .join(',');
      for (const file of WATCHED) {
        if (root && file === 'cgroup.procs') continue;
        try {
          out[join(dir, file)] = readFileSync(join(dir, file), 'utf8');
        } catch {
          // not in this hierarchy
        }
      }
    }
  }
  return out;
}

interface Answer {
  status: number;
  body: string;
}

describe('fuzz: random requests never get a 5xx or change anything outside the managed tree', () => {
  let svc: RunningService;
  let internal: TestCgroup;
  let sentinel: TestCgroup;
  let managedCg: TestCgroup;
  let managed = "";
  let target: string;
  let tokens: { admin: string; operator: string; viewer: string };
  let sleeper: ChildProcess;
  let before: Record<string, string>;
  let watched: string[];
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });

  const recent: string[] = [];
  /** One request with the path exactly as given (node:http sends it unencoded). */
  function send(method: string, path: string, token: string | undefined, body?: string): Promise<Answer> {
    const { port } = new URL(svc.url);
    recent.push(`${method} ${path.slice(0, 200)} ${token ? 'token' : 'none'} ${body?.slice(0, 200) ?? ''}`);
    if (recent.length > 4) recent.shift();
    const context = recent.join('\n  ');
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = String(Buffer.byteLength(body));
      }
      const req = request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (data += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      });
      req.on('error', (err) => reject(new Error(`${method} ${path.slice(0, 300)}: ${err.message}; the last requests:\n  ${context}`)));
      req.setTimeout(30_000, () => req.destroy(new Error(`no answer to ${method} ${path.slice(0, 200)}`)));
      req.end(body);
    });
  }

  function expectSane(what: string, res: Answer): void {
    if (res.status >= 500 || res.status < 100) throw new Error(`${what} -> ${res.status} ${res.body.slice(0, 500)}`);
    if (res.status >= 400) {
      let parsed: { error?: { code?: unknown; message?: unknown }; errors?: { extensions?: { code?: unknown } }[] };
      try {
        parsed = JSON.parse(res.body) as typeof parsed;
      } catch {
        throw new Error(`${what} -> ${res.status} without a JSON body: ${res.body.slice(0, 300)}`);
      }
      const code = parsed.error?.code ?? parsed.errors?.[0]?.extensions?.code;
      if (typeof code !== 'string') throw new Error(`${what} -> ${res.status} not in the error shape: ${res.body.slice(0, 300)}`);
    }
  }

  async function healthy(): Promise<void> {
    const res = await send('GET', '/healthz', undefined);
    expect(res.status).toBe(200);
  }

  async function batch(name: string, index: number, arbitrary: fc.Arbitrary<() => Promise<void>>, numRuns: number): Promise<void> {
    const started = Date.now();
    await fc.assert(
      fc.asyncProperty(arbitrary, async (run) => run()),
      { seed: SEED + index, numRuns, interruptAfterTimeLimit: BATCH_TIME_LIMIT_MS, markInterruptAsFailure: false, endOnFailure: true },
    );
    console.log(`[fuzz] ${name}: seed ${SEED + index}, ${numRuns} runs, ${Date.now() - started} ms`);
    await healthy();
  }

  beforeAll(async () => {
    console.log(`[fuzz] NSGATE_FUZZ_SEED=${SEED} NSGATE_FUZZ_RUNS=${SCALE} (set them to replay or to widen the run)`);
    internal = makeTestCgroup('fuzz-internal');
    sentinel = makeTestCgroup('fuzz-sentinel');
    managedCg = makeTestCgroup('fuzz-managed');
    managed = managedCg.path;
    process.env.NSGATE_FUZZ_DEBUG && console.log('[fuzz] managed', managed);
    target = `${managed}/target`;
    writeFileSync(`${sentinel.dir('memory')}/memory.limit_in_bytes`, String(96 << 20));
    writeFileSync(`${sentinel.dir('pids')}/pids.max`, '77');
    svc = await startService({ NSGATE_MANAGED_CGROUPS: managed, NSGATE_INTERNAL_CGROUP: internal.path, NSGATE_LOG_LEVEL: 'warn' });
    const tokensFile = join(svc.dataDir, 'tokens.json');
    tokens = {
      admin: readFileSync(join(svc.dataDir, 'admin.token'), 'utf8').trim(),
      operator: await addToken(tokensFile, 'fuzz-ops', 'operator'),
      viewer: await addToken(tokensFile, 'fuzz-viewer', 'viewer'),
    };
    for (let i = 0; i < 50 && (await send('GET', '/v1/host', tokens.viewer)).status === 401; i++) await new Promise((r) => setTimeout(r, 100));
    expect((await send('PUT', `/v1/cgroups${target}`, tokens.operator, '{}')).status).toBe(200);
    sleeper = spawn('sleep', ['600'], { stdio: 'ignore' });
    watched = [sentinel.path, cgroupParent(), '/'];
    before = snapshot(watched);
  });

  afterAll(async () => {
    const errors = svc?.output().split('\n').filter((l) => /"level":(50|60)|ERROR/.test(l)) ?? [];
    if (errors.length) console.log(`[fuzz] the service logged errors:\n${errors.slice(0, 20).join('\n').slice(0, 8000)}`);
    sleeper?.kill('SIGKILL');
    agent.destroy();
    await svc?.stop();
    managedCg?.remove();
    sentinel?.remove();
    internal?.remove();
  });

  // ---- generators ------------------------------------------------------------------------

  const segment = fc.oneof(
    fc.constantFrom('target', 'a', 'b', '-', '..', '.', '', '%2F', '%2e%2e', '%00', '%0A', '%E0%A4%A', '%', '%zz', 'memory.limit_in_bytes', 'release_agent', 'tasks', '..%2F..'),
    fc.stringMatching(/^[a-zA-Z0-9._~-]{1,12}$/),
    fc.string({ unit: 'grapheme', maxLength: 8 }).map((s) => encodeURIComponent(s)),
    fc.integer({ min: 200, max: 5000 }).map((n) => 'x'.repeat(n)),
  );
  const cgroupPath = () =>
    fc.tuple(fc.constantFrom(managed, `${managed}/target`, '', '/', '/nsgate', '/process_api', '/docker', '/system.slice'), fc.array(segment, { maxLength: 5 }))
    .map(([base, parts]) => `${base}/${parts.join('/')}`.replace(/^\/+/, ''));

  /** Sizes, counts and junk, in every type JSON has. */
  const value = fc.oneof(
    fc.constantFrom('8M', '64M', '1G', 'max', '-1', '6M', '5M', '1.5G', '0', '1e3', '0x10', ' 64M ', 'NaN', '', '50000 100000', 'max 100000', '0-1', '0', '1-9223372036854775807'),
    fc.integer({ min: -3, max: 1 << 30 }),
    fc.constantFrom(-1, 0, 1, 2, 6 << 20, 2 ** 53, -(2 ** 53), 1.5, 9223372036854775807),
    fc.constant(null),
    fc.boolean(),
    fc.string({ maxLength: 20 }),
    fc.array(fc.integer(), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 6 }), fc.integer(), { maxKeys: 3 }),
  );
  const group = (keys: string[]) => fc.oneof(fc.dictionary(fc.constantFrom(...keys, 'bogus', '__proto__', 'constructor'), value, { maxKeys: 4 }), value);
  const limits = fc.record(
    {
      memory: group(['max', 'high', 'swapMax']),
      cpu: group(['max', 'quotaUs', 'periodUs', 'weight', 'shares']),
      pids: group(['max']),
      cpuset: group(['cpus', 'mems']),
      force: fc.boolean(),
      junk: value,
    },
    { requiredKeys: [] },
  );
  /** JSON text, sometimes broken: duplicate keys, truncation, a prototype key. */
  const bodyText = (json: fc.Arbitrary<unknown>) =>
    fc.tuple(json, fc.integer({ min: 0, max: 9 })).map(([v, mangle]) => {
      const text = JSON.stringify(v) ?? 'null';
      if (mangle === 0) return text.slice(0, Math.floor(text.length / 2));
      if (mangle === 1) return text.replace(/^\{/, '{"memory":{},');
      if (mangle === 2) return text.replace(/^\{/, '{"__proto__":{"x":1},');
      return text;
    });

  const tokenOf = (which: 'viewer' | 'operator' | 'none') => (which === 'none' ? undefined : tokens[which]);

  // ---- batches ---------------------------------------------------------------------------

  it('random cgroup paths and actions (operators and viewers; moves only as an operator)', async () => {
    const action = fc.constantFrom('', '/-/limits', '/-/freeze', '/-/thaw', '/-/processes', '/-/kill', '/-/nope', '/-/', '/-/limits/-/freeze');
    const method = fc.constantFrom('GET', 'PUT', 'PATCH', 'POST', 'DELETE', 'HEAD', 'OPTIONS');
    const query = fc.constantFrom('', '?depth=2', '?depth=-1', '?depth=99', '?under=/', `?under=${managed}`, '?limit=0', '?cursor=%%', '?dryRun=true');
    const who = fc.constantFrom<'viewer' | 'operator' | 'none'>('viewer', 'operator', 'operator', 'none');
    const body = fc.option(bodyText(fc.oneof(limits, fc.record({ pid: fc.integer({ min: -1, max: 5_000_000 }) }), fc.record({ limits }))), { nil: undefined });
    const arb = fc.tuple(method, cgroupPath(), action, query, who, body).map(([m, p, a, q, w, b]) => async () => {
      const path = `/v1/cgroups/${p}${a}${q}`;
      const res = await send(m, path, tokenOf(w), m === 'GET' || m === 'HEAD' ? undefined : b);
      if (m !== 'HEAD') expectSane(`${m} ${path.slice(0, 300)} as ${w} ${b ?? ''}`, res);
      else if (res.status >= 500) throw new Error(`HEAD ${path} -> ${res.status}`);
    });
    await batch('cgroup paths', 0, arb, runs(300));
  });

  it('random limit bodies on a managed cgroup (REST and GraphQL)', async () => {
    // the path batch may have removed it
    expect([200, 409]).toContain((await send('PUT', `/v1/cgroups${target}`, tokens.operator, '{}')).status);
    await send('POST', `/v1/cgroups${target}/-/thaw`, tokens.operator);
    const rest = fc.tuple(bodyText(limits), fc.constantFrom('', '?dryRun=true')).map(([b, q]) => async () => {
      const res = await send('PATCH', `/v1/cgroups${target}/-/limits${q}`, tokens.operator, b);
      expectSane(`PATCH limits ${b}`, res);
    });
    const graph = limits.map((l) => async () => {
      const { force, junk: _junk, ...input } = l as Record<string, unknown>;
      const res = await send(
        'POST',
        '/graphql',
        tokens.operator,
        JSON.stringify({ query: 'mutation($l: CgroupLimitsInput!, $f: Boolean) { setCgroupLimits(path: $p, limits: $l, force: $f) { after { memory { max } } } }'.replace('$p', JSON.stringify(target)), variables: { l: input, f: force } }),
      );
      expectSane(`setCgroupLimits ${JSON.stringify(input)}`, res);
    });
    await batch('limit bodies', 1, fc.oneof(rest, graph), runs(250));
  });

  it('random exec bodies (admin, into a sleep this test started; commands from a harmless set or nonexistent)', async () => {
    const argv = fc.oneof(
      fc.tuple(fc.constantFrom('true', 'id', 'echo', 'cat', 'ls', 'printenv', 'nsgate-fuzz-no-such-command', '/nonexistent/x', '', 'sleep'), fc.array(fc.constantFrom('0', '/proc/self/status', '-la', 'x'.repeat(300), '\u0000', '--', '%s'), { maxLength: 3 })).map(([c, a]) => [c, ...a]),
      value,
      fc.constant([]),
    );
    const exec = fc.record(
      {
        argv,
        namespaces: fc.oneof(fc.subarray(['mnt', 'uts', 'ipc', 'net', 'pid', 'user', 'cgroup', 'time', 'bogus']), value),
        timeoutMs: fc.oneof(fc.integer({ min: -1, max: 3000 }), value),
        maxOutputBytes: fc.oneof(fc.integer({ min: -1, max: 1 << 20 }), value),
        user: fc.oneof(fc.constantFrom(0, '0', '0:0', '65534:65534', 'root', '1:2:3', { uid: 0 }, { uid: 65534, gid: 65534, groups: [1, 2] }, { uid: -1 }), value),
        cwd: fc.oneof(fc.constantFrom('/', '/tmp', '/proc/self/cwd', '/proc/1/root', 'relative', '/nonexistent'), value),
        env: fc.oneof(fc.dictionary(fc.stringMatching(/^[A-Za-z_=][A-Za-z0-9_=]{0,8}$/), fc.string({ maxLength: 10 }), { maxKeys: 3 }), value),
        stdin: fc.oneof(fc.string({ maxLength: 50 }), value),
      },
      { requiredKeys: ['argv'] },
    );
    const pid = fc.oneof(fc.constant('SLEEPER'), fc.constantFrom('0', '-1', '4194305', 'abc', '1e3', '0x10', '999999'));
    const arb = fc.tuple(pid, bodyText(exec)).map(([p, b]) => async () => {
      const path = `/v1/processes/${p === 'SLEEPER' ? sleeper.pid : p}/exec`;
      const res = await send('POST', path, tokens.admin, b);
      expectSane(`POST ${path} ${b.slice(0, 300)}`, res);
    });
    await batch('exec bodies', 2, arb, runs(80));
  });

  it('random GraphQL documents (viewers and operators; operators may only run cgroup mutations on managed paths)', async () => {
    const name = fc.constantFrom('host', 'kernel', 'cgroupMode', 'cgroups', 'cgroup', 'items', 'path', 'limits', 'memory', 'max', 'processes', 'pid', 'namespaces', 'containers', 'auditLog', '__typename', '__schema', '__type', 'types', 'nope', 'kernell');
    const args = fc.constantFrom('', `(path: ${JSON.stringify(target)})`, '(path: "/")', '(limit: 2)', '(limit: -1)', '(pid: 1)', '(x: 1)', '(path: $p)', '(limit: 99999999999)');
    const selection: fc.Arbitrary<string> = fc.letrec<{ sel: string }>((tie) => ({
      sel: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.tuple(fc.option(fc.constantFrom('a:', 'b:', 'a: '), { nil: '' }), name, args).map(([alias, n, a]) => `${alias}${n}${a}`),
        fc.tuple(name, args, fc.array(tie('sel'), { minLength: 1, maxLength: 3 })).map(([n, a, s]) => `${n}${a} { ${s.join(' ')} }`),
        fc.constantFrom('...A', '...B', '...Missing', '... on Query { host { kernel } }', '@skip(if: true)', '{', '}'),
      ),
    })).sel;
    const document = fc.tuple(
      fc.constantFrom('', 'query', 'query Q', 'query Q($p: String)', 'mutation', 'subscription', 'query Q($p: String!) @include(if: true)'),
      fc.array(selection, { minLength: 1, maxLength: 4 }),
      fc.subarray(['fragment A on Query { ...A }', 'fragment A on Query { ...B } fragment B on Query { ...A }', 'fragment B on Query { host { kernel } }', 'fragment A on Nope { x }', 'fragment B on Query { ...A }', `fragment A on Query { cgroup(path: ${JSON.stringify(target)}) { path } }`]),
    ).map(([op, sels, frags]) => `${op} { ${sels.join(' ')} } ${frags.join(' ')}`);
    const mutation = fc.tuple(fc.constantFrom('setCgroupLimits', 'createCgroup', 'deleteCgroup', 'freezeCgroup', 'thawCgroup', 'moveProcess', 'killCgroup', 'setCgroupLimit'), cgroupPath()).map(
      ([m, p]) => `mutation { ${m}(path: ${JSON.stringify(`/${p}`)}${m === 'setCgroupLimits' ? ', limits: { pids: { max: "64" } }' : ''}${m === 'moveProcess' ? ', pid: 1' : ''}) { __typename } }`,
    );
    const raw = fc.string({ maxLength: 60 });
    const arb = fc
      .tuple(fc.oneof({ weight: 6, arbitrary: document }, { weight: 2, arbitrary: mutation }, { weight: 1, arbitrary: raw }), fc.option(fc.dictionary(fc.constantFrom('p', 'x'), value), { nil: undefined }), fc.constantFrom<'viewer' | 'operator'>('viewer', 'operator'), fc.boolean())
      .map(([query, variables, who, batched]) => async () => {
        const one = { query, variables };
        const res = await send('POST', '/graphql', tokens[who], JSON.stringify(batched ? [one, one] : one));
        expectSane(`graphql as ${who}: ${query.slice(0, 400)}`, res);
      });
    await batch('graphql documents', 3, arb, runs(300));
  });

  it('changed nothing outside the managed tree, and still answers', async () => {
    await healthy();
    // the sentinel's and the run parent's limit files and child cgroups, and the roots' limits
    expect(snapshot(watched)).toEqual(before);
  });
});

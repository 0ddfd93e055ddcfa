// Issue 13, "metrics a cAdvisor user can switch to": the real Prometheus (Debian's package, the
// binary run directly on loopback with its own config and folder) scrapes the built service with
// a bearer token, and its HTTP API answers the cAdvisor queries dashboards use: the cpu rate of a
// busy container, its working set (equal to nsgate's REST stats), its memory limit. promtool
// lints the scraped text.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToken } from '../../src/auth/token-store.js';
import { waitFor } from './support/app.js';
import { removeContainer, runContainer, TEST_IMAGE, type TestContainer } from './support/docker.js';
import { freePort, type RunningService, startService } from './support/service.js';

const REPO = new URL('../..', import.meta.url).pathname;

function run(file: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** Debian's prometheus package (it brings promtool), installed when missing the way the engine's packages are: no service started. */
async function ensurePrometheus(): Promise<void> {
  if ((await run('sh', ['-c', 'command -v prometheus && command -v promtool'])).code === 0) return;
  const res = await run('bash', ['-c', `source ${join(REPO, 'docker/engine.env.sh')} && install_packages prometheus`]);
  if (res.code !== 0) throw new Error(`could not install Debian's prometheus: ${res.stderr}`);
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe('Prometheus scraping nsgate', () => {
  let svc: RunningService;
  let busy: TestContainer;
  let idle: TestContainer;
  let token: string;
  let prom: ChildProcess | undefined;
  let promDir: string;
  let promUrl: string;
  let promLog = '';

  beforeAll(async () => {
    await ensurePrometheus();
    // bounded: a fifth of a cpu, so the test costs this shared machine little
    busy = await runContainer('metrics-busy', ['--cpus', '0.2', '--memory', '48m', TEST_IMAGE, 'sh', '-c', 'while :; do :; done']);
    idle = await runContainer('metrics-idle', [TEST_IMAGE, 'sleep', '600']);
    svc = await startService({ DOCKER_HOST: process.env.DOCKER_HOST ?? 'unix:///run/nsgate-test/docker.sock', NSGATE_LOG_LEVEL: 'warn' });
    token = await addToken(join(svc.dataDir, 'tokens.json'), 'prometheus', 'viewer');
    await waitFor(async () => (await fetch(`${svc.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status === 200, 15_000, 200);

    promDir = await mkdtemp(join(tmpdir(), 'nsgate-prometheus-'));
    await writeFile(join(promDir, 'token'), token, { mode: 0o600 });
    const target = new URL(svc.url).host;
    await writeFile(
      join(promDir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'scrape_configs:',
        '  - job_name: nsgate',
        '    scrape_interval: 1s',
        '    scrape_timeout: 1s',
        '    authorization:',
        '      type: Bearer',
        `      credentials_file: ${join(promDir, 'token')}`,
        '    static_configs:',
        `      - targets: ['${target}']`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prom = spawn(
      'prometheus',
      [
        `--config.file=${join(promDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(promDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1h',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prom.stdout!.on('data', (d: Buffer) => (promLog += d.toString()));
    prom.stderr!.on('data', (d: Buffer) => (promLog += d.toString()));
    await waitFor(
      async () => {
        if (prom!.exitCode !== null) throw new Error(`prometheus exited ${prom!.exitCode}:\n${promLog}`);
        return fetch(`${promUrl}/-/ready`).then(
          (r) => r.ok,
          () => false,
        );
      },
      60_000,
      250,
    );
  });

  afterAll(async () => {
    if (prom && prom.exitCode === null && prom.signalCode === null) {
      const exited = new Promise((r) => prom!.once('exit', r));
      prom.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (prom.exitCode === null && prom.signalCode === null) prom.kill('SIGKILL');
    }
    await svc?.stop();
    for (const c of [busy, idle]) if (c) await removeContainer(c.id);
    if (promDir) await rm(promDir, { recursive: true, force: true });
    if (svc) await rm(svc.dataDir, { recursive: true, force: true });
  });

  async function query(expr: string): Promise<Sample[]> {
    const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; data: { result: Sample[] }; error?: string };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data.result;
  }

  /** Waits until the query has exactly one series, and returns its value. */
  async function single(expr: string, timeoutMs = 30_000): Promise<{ metric: Record<string, string>; value: number }> {
    let last: Sample[] = [];
    try {
      await waitFor(async () => (last = await query(expr)).length === 1, timeoutMs, 500);
    } catch {
      const targets = await (await fetch(`${promUrl}/api/v1/targets`)).text();
      throw new Error(`${expr}: ${last.length} series after ${timeoutMs} ms; targets: ${targets}\nprometheus log:\n${promLog}`);
    }
    return { metric: last[0]!.metric, value: Number(last[0]!.value[1]) };
  }

  it('scrapes /metrics with the bearer token: target up, cAdvisor labels on every container series', async () => {
    expect((await single('up{job="nsgate"} == 1')).value).toBe(1);
    const seen = await single(`container_last_seen{name="${busy.name}"}`);
    expect(seen.metric).toMatchObject({ id: `/docker/${busy.id}`, name: busy.name, image: TEST_IMAGE });
    expect((await single(`machine_cpu_cores`)).value).toBeGreaterThan(0);
    expect((await single(`machine_memory_bytes`)).value).toBeGreaterThan(0);
  });

  it('rate(container_cpu_usage_seconds_total) is the busy container burning cpu, and ~0 for an idle one', async () => {
    const expr = (name: string) => `rate(container_cpu_usage_seconds_total{name="${name}"}[5s])`;
    await waitFor(async () => (await query(expr(busy.name))).some((s) => Number(s.value[1]) > 0.02), 30_000, 500);
    const busyRate = (await single(expr(busy.name))).value;
    // --cpus 0.2: at most a fifth of a cpu, however loaded the machine is
    expect(busyRate).toBeGreaterThan(0.02);
    expect(busyRate).toBeLessThan(0.3);
    expect((await single(expr(idle.name))).value).toBeLessThan(0.01);
    // the quota shows, as cAdvisor shows it
    expect((await single(`container_spec_cpu_quota{name="${busy.name}"}`)).value).toBe(20_000);
    expect((await single(`container_spec_cpu_period{name="${busy.name}"}`)).value).toBe(100_000);
    expect((await single(`container_spec_memory_limit_bytes{name="${busy.name}"}`)).value).toBe(48 * 1024 * 1024);
    expect((await single(`container_spec_memory_limit_bytes{name="${idle.name}"}`)).value).toBe(0);
    expect((await single(`container_cpu_cfs_periods_total{name="${busy.name}"}`)).value).toBeGreaterThan(0);
  });

  it("container_memory_working_set_bytes equals nsgate's REST stats (within what one scrape moves)", async () => {
    const expr = `container_memory_working_set_bytes{name="${busy.name}"}`;
    await single(expr);
    // what the series moved over its last few scrapes: the tolerance of a reading taken between two of them
    const range = await query(`max_over_time(${expr}[5s]) - min_over_time(${expr}[5s])`);
    const moved = Number(range[0]?.value[1] ?? 0);
    const fromProm = (await single(expr)).value;
    const rest = (await (await fetch(`${svc.url}/v1/containers/${busy.name}/stats`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      memory: { workingSet: number };
    };
    // v1 charges memory to a cgroup in per-cpu batches of 32 pages: usage moves in steps of up to 128 KiB per cpu
    expect(Math.abs(rest.memory.workingSet - fromProm)).toBeLessThanOrEqual(moved + 2 * 128 * 1024);
    expect(fromProm).toBeGreaterThan(0);
  });

  it('promtool check metrics finds nothing to complain about in the scraped text', async () => {
    const text = await (await fetch(`${svc.url}/metrics`, { headers: { authorization: `Bearer ${token}` } })).text();
    expect(text).toContain(`container_cpu_usage_seconds_total{id="/docker/${busy.id}"`);
    const lint = await run('promtool', ['check', 'metrics'], text);
    expect({ code: lint.code, out: (lint.stdout + lint.stderr).trim() }).toEqual({ code: 0, out: '' });
  });
});

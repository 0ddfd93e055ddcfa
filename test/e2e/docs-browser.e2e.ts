// /docs in a real browser (issue 13, "Browsers"): Debian's chromium, headless, driven over the
// DevTools protocol (no browser download, no puppeteer), opens the page without a token, renders
// the operations from the document the service serves, and calls a route from the page (the
// page's content security policy must let it reach its own origin). Skipped, saying why, where
// chromium is not installed (.ci/run installs it).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp, waitFor } from './support/app.js';
import { listen } from './support/listen.js';

const CHROMIUM = '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
if (!present) console.warn(`[docs-browser] skipped: ${CHROMIUM} is absent (apt-get install chromium; .ci/run does)`);

/** A minimal DevTools protocol client: one browser connection, flat sessions. */
class DevTools {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
      const waiting = msg.id !== undefined ? this.pending.get(msg.id) : undefined;
      if (!waiting) return;
      this.pending.delete(msg.id!);
      if (msg.error) waiting.reject(new Error(msg.error.message));
      else waiting.resolve(msg.result);
    });
  }
  static async connect(url: string): Promise<DevTools> {
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    return new DevTools(socket);
  }
  send<T = any>(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }
  close(): void {
    this.socket.close();
  }
}

describe.skipIf(!present)('/docs in headless Chromium', () => {
  let t: TestApp;
  let base: string;
  let browser: ChildProcess | undefined;
  let profile: string;
  let devtools: DevTools;
  let session: string;

  beforeAll(async () => {
    t = await startTestApp();
    base = (await listen(t)).http;
    profile = await mkdtemp(join(tmpdir(), 'nsgate-chromium-'));
    browser = spawn(
      CHROMIUM,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        `--user-data-dir=${profile}`,
        '--remote-debugging-address=127.0.0.1',
        '--remote-debugging-port=0',
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
    );
    let err = '';
    const endpoint = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`chromium gave no DevTools address:\n${err}`)), 30_000);
      browser!.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      browser!.once('exit', (code) => reject(new Error(`chromium exited with ${code}:\n${err}`)));
    });
    devtools = await DevTools.connect(endpoint);
    const { targetId } = await devtools.send<{ targetId: string }>('Target.createTarget', { url: `${base}/docs` });
    session = (await devtools.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true })).sessionId;
  });

  afterAll(async () => {
    if (devtools) {
      await devtools.send('Browser.close').catch(() => undefined);
      devtools.close();
    }
    if (browser?.pid && browser.exitCode === null) {
      const exited = new Promise((r) => browser!.once('exit', r));
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      // chromium's helpers are in the group it leads (spawned detached, by us)
      if (browser.exitCode === null) process.kill(-browser.pid, 'SIGKILL');
    }
    if (profile) await rm(profile, { recursive: true, force: true });
    await t?.close();
  });

  const evaluate = async <T>(expression: string): Promise<T> => {
    const res = await devtools.send<{ result: { value: T }; exceptionDetails?: { text: string } }>('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, session);
    if (res.exceptionDetails) throw new Error(`in the page: ${res.exceptionDetails.text}`);
    return res.result.value;
  };

  it('opens without a token and lists the operations of the live document', async () => {
    await waitFor(async () => (await evaluate<number>("document.querySelectorAll('.opblock').length")) > 20, 30_000, 200);
    const paths = await evaluate<string[]>("[...document.querySelectorAll('.opblock-summary-path')].map((e) => e.textContent.replace(/\\u200b/g, ''))");
    const live = Object.keys(((await (await fetch(`${base}/openapi.json`)).json()) as { paths: Record<string, unknown> }).paths);
    for (const path of ['/v1/cgroups/{path}/-/limits', '/v1/containers/{idOrName}', '/healthz']) expect(paths).toContain(path);
    expect(new Set(paths)).toEqual(new Set(live));
    expect(await evaluate<string>('document.title')).toBe('nsgate API');
    // the Authorize button, where a token goes for "Try it out"
    expect(await evaluate<boolean>("!!document.querySelector('.btn.authorize')")).toBe(true);
  });

  it('calls a route from the page: refused without a token, answered with one', async () => {
    const call = (token?: string) => evaluate<number>(`fetch('/v1/host'${token ? `, { headers: { authorization: 'Bearer ${token}' } }` : ''}).then((r) => r.status)`);
    expect(await call()).toBe(401);
    expect(await call(t.tokens.viewer)).toBe(200);
  });
});

// Boots the cgroup v2 kernel under qemu (tcg) with a test entry script and returns what the
// guest printed between its markers. The guest protocol: the entry script prints one JSON
// line per test case, {"suite"?: name, "case": name, "ok": boolean, "error"?: string,
// ...details}; /init
// prints the markers and the script's exit code, then powers off.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { buildInitramfs, repoRoot, type InitramfsFile, type InitramfsLayer } from '../../scripts/vm/build-initramfs.mjs';

const execFileAsync = promisify(execFile);

export interface VmCaseResult {
  /** Which group of cases it belongs to, when the guest runs several. */
  suite?: string;
  case: string;
  ok: boolean;
  error?: string;
  [detail: string]: unknown;
}

export interface VmRunOptions {
  /** The guest's entry script, repo-relative; it must also be covered by `files`. */
  entry: string;
  /** What goes under /app in the guest (repo-relative paths or {src, dest}). */
  files: InitramfsFile[];
  /** Extra cached initramfs layers (e.g. the Docker Engine, node_modules), unpacked before `files`. */
  layers?: InitramfsLayer[];
  /** Extra kernel command line words (e.g. swapaccount=1, nsgate.docker=1). */
  kernelArgs?: string[];
  /** Kills qemu after this long. Default 450 s, or NSGATE_VM_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Guest CPUs. Default 2 (cpuset tests want more than one), or NSGATE_VM_SMP. */
  smp?: number;
  memoryMb?: number;
  /** Extra node options for the guest, e.g. ['--jitless']. */
  nodeOptions?: string[];
  /** Called with each console line as it arrives (for progress while debugging). */
  onLine?: (line: string) => void;
}

export interface VmRunResult {
  /** The entry script's exit code, or null when the END marker never came. */
  rc: number | null;
  /** The lines between the markers. */
  output: string;
  cases: VmCaseResult[];
  timedOut: boolean;
  /** Everything the console printed (escape codes and \r removed). */
  console: string;
  /** Where the console log was kept. */
  logFile: string;
  timings: {
    /** Kernel fetch/check plus initramfs build (kernelMs + initramfsMs). */
    prepareMs: number;
    kernelMs: number;
    initramfsMs: number;
    /** Whether the base (node, busybox) and project layers had to be rebuilt. */
    initramfsBuilt: { base: boolean; project: boolean; layers: Record<string, boolean> };
    /** The initramfs's size in bytes. */
    initramfsBytes: number;
    /** qemu start to the BEGIN marker: firmware, kernel boot, /init. */
    bootToBeginMs: number | null;
    /** BEGIN to END marker: node start and the test cases. */
    guestMs: number | null;
    totalMs: number;
    [extra: string]: unknown;
  };
}

function envInt(name: string): number | undefined {
  const v = process.env[name];
  return v && /^\d+$/.test(v) ? Number(v) : undefined;
}

function cacheDir(): string {
  return process.env.NSGATE_VM_CACHE ?? path.join(repoRoot, '.vm-cache');
}

async function which(cmd: string): Promise<boolean> {
  try {
    await execFileAsync('sh', ['-c', `command -v ${cmd}`]);
    return true;
  } catch {
    return false;
  }
}

/** The kernel to boot; installs qemu when it is missing (set NSGATE_VM_INSTALL=0 to refuse instead). */
export async function prepareKernel(): Promise<string> {
  const install = process.env.NSGATE_VM_INSTALL !== '0';
  const script = path.join(repoRoot, 'scripts/vm/fetch-kernel.sh');
  const { stdout } = await execFileAsync('bash', [script, ...(install ? ['--install'] : [])], {
    maxBuffer: 16 * 1024 * 1024,
  });
  const kernel = stdout.trim().split('\n').pop() ?? '';
  if (!fs.existsSync(kernel)) throw new Error(`fetch-kernel.sh printed no kernel path: ${stdout}`);
  if (!(await which('qemu-system-x86_64'))) {
    throw new Error('qemu-system-x86_64 is not installed: run scripts/vm/fetch-kernel.sh --install');
  }
  return kernel;
}

// qemu -nographic prints terminal resets (ESC c, ESC [...) and the tty adds \r.
// eslint-disable-next-line no-control-regex
const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]|\x1b[c78]|\r/g;

export function parseConsole(text: string, nonce: string): Pick<VmRunResult, 'rc' | 'output' | 'cases'> {
  const lines = text.replace(ESCAPES, '').split('\n');
  // Markers are matched at the end of a line: firmware output may precede them.
  const begin = lines.findIndex((l) => l.trimEnd().endsWith(`===NSGATE-VM-BEGIN ${nonce}===`));
  if (begin < 0) return { rc: null, output: '', cases: [] };
  const endRe = new RegExp(`===NSGATE-VM-END ${nonce} rc=(\\d+)===$`);
  let end = lines.length;
  let rc: number | null = null;
  for (let i = begin + 1; i < lines.length; i++) {
    const m = lines[i]!.trimEnd().match(endRe);
    if (m) {
      end = i;
      rc = Number(m[1]);
      break;
    }
  }
  const body = lines.slice(begin + 1, end);
  const cases: VmCaseResult[] = [];
  for (const line of body) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      const v = JSON.parse(t) as unknown;
      if (v && typeof v === 'object' && typeof (v as VmCaseResult).case === 'string') {
        cases.push(v as VmCaseResult);
      }
    } catch {
      // Not a case line: ordinary output that happens to start with a brace.
    }
  }
  return { rc, output: body.join('\n'), cases };
}

const running = new Set<number>();
let exitHookInstalled = false;
function killOnExit(pid: number): void {
  running.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A worker that dies mid-run must not leave a qemu spinning a core.
  process.once('exit', () => {
    for (const p of running) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** Keeps the newest `keep` console logs. */
function pruneLogs(dir: string, keep: number): void {
  const logs = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .map((f) => ({ f, t: fs.statSync(path.join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { f } of logs.slice(keep)) fs.rmSync(path.join(dir, f), { force: true });
}

export async function runInVm(options: VmRunOptions): Promise<VmRunResult> {
  const started = Date.now();
  const kernel = await prepareKernel();
  const kernelMs = Date.now() - started;
  const build = buildInitramfs({ files: options.files, layers: options.layers });
  const prepareMs = Date.now() - started;

  const nonce = randomBytes(8).toString('hex');
  const smp = options.smp ?? envInt('NSGATE_VM_SMP') ?? 2;
  const timeoutMs = options.timeoutMs ?? envInt('NSGATE_VM_TIMEOUT_MS') ?? 450_000;
  const append = [
    'console=ttyS0',
    'quiet',
    'loglevel=1',
    'panic=-1',
    `nsgate.nonce=${nonce}`,
    `nsgate.entry=${options.entry}`,
    ...(options.kernelArgs ?? []),
    ...(options.nodeOptions?.length ? [`nsgate.node=${options.nodeOptions.join(',')}`] : []),
  ].join(' ');
  const args = [
    '-accel', 'tcg',
    '-m', String(options.memoryMb ?? 1024),
    '-smp', String(smp),
    '-nographic',
    '-no-reboot',
    '-nic', 'none',
    '-kernel', kernel,
    '-initrd', build.initrd,
    '-append', append,
  ];

  const logDir = path.join(cacheDir(), 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  pruneLogs(logDir, 20);
  const logFile = path.join(logDir, `${path.basename(options.entry).replace(/\W+/g, '_')}-${nonce}.log`);
  const log = fs.createWriteStream(logFile);
  log.write(`# qemu-system-x86_64 ${args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}\n`);

  const bootStarted = Date.now();
  let beganAt: number | null = null;
  let endedAt: number | null = null;
  let text = '';
  let pending = '';
  let timedOut = false;

  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error('could not start qemu-system-x86_64');
  const pid = child.pid;
  killOnExit(pid);
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, timeoutMs);

  const onData = (chunk: Buffer): void => {
    const s = chunk.toString('utf8');
    text += s;
    log.write(chunk);
    pending += s;
    let i: number;
    while ((i = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, i).replace(ESCAPES, '');
      pending = pending.slice(i + 1);
      if (beganAt === null && line.includes(`===NSGATE-VM-BEGIN ${nonce}===`)) beganAt = Date.now();
      if (endedAt === null && line.includes(`===NSGATE-VM-END ${nonce} `)) endedAt = Date.now();
      options.onLine?.(line);
    }
  };
  child.stdout.on('data', onData);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    log.write(chunk);
  });

  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  }).finally(() => {
    clearTimeout(timer);
    running.delete(pid);
  });
  const done = Date.now();
  log.write(`\n# qemu exit code=${exit.code} signal=${exit.signal} timedOut=${timedOut} ms=${done - bootStarted}\n`);
  await new Promise<void>((resolve) => log.end(resolve));

  const parsed = parseConsole(text, nonce);
  if (parsed.rc === null && !timedOut && exit.code !== 0 && stderr.trim()) {
    throw new Error(`qemu failed (code ${exit.code}): ${stderr.trim()} (log: ${logFile})`);
  }
  return {
    ...parsed,
    timedOut,
    console: text.replace(ESCAPES, ''),
    logFile,
    timings: {
      prepareMs,
      kernelMs,
      initramfsMs: prepareMs - kernelMs,
      initramfsBuilt: { base: build.baseBuilt, project: build.projectBuilt, layers: build.layersBuilt },
      initramfsBytes: build.bytes,
      bootToBeginMs: beganAt === null ? null : beganAt - bootStarted,
      guestMs: beganAt === null || endedAt === null ? null : endedAt - beganAt,
      totalMs: done - started,
    },
  };
}

/** A readable account of a run that did not report every case, for assertion messages. */
export function describeRun(result: VmRunResult, lastLines = 40): string {
  const tail = (result.output || result.console).split('\n').slice(-lastLines).join('\n');
  return [
    `rc=${result.rc} timedOut=${result.timedOut} log=${result.logFile}`,
    `timings=${JSON.stringify(result.timings)}`,
    '--- last console lines ---',
    tail,
  ].join('\n');
}

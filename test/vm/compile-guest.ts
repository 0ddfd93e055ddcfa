// Compiles TypeScript the guest needs (the driver's shared test cases and the src/kernel
// modules they import) with the project's own compiler and options, into
// .vm-cache/guest-build/ at their repo-relative paths. The guest gets that tree under /app,
// so relative imports resolve there exactly as in the repo.
//
// Only the entry files and what they import are compiled (tsc follows imports), and the
// build is incremental, so a second run with no change costs about a second.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, type InitramfsFile } from '../../scripts/vm/build-initramfs.mjs';

const execFileAsync = promisify(execFile);

export interface GuestBuild {
  /** The output tree, laid out like the repo (src/..., test/...). */
  outDir: string;
  /** Every emitted .js file as an initramfs entry at its repo-relative path. */
  files: InitramfsFile[];
  ms: number;
}

function listJs(dir: string, base = dir): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return listJs(full, base);
    return e.name.endsWith('.js') ? [path.relative(base, full)] : [];
  });
}

/** @param entries repo-relative .ts files, e.g. ['test/shared/cgroup-driver-cases.ts'] */
export async function compileForGuest(entries: string[]): Promise<GuestBuild> {
  const started = Date.now();
  const cache = process.env.NSGATE_VM_CACHE ?? path.join(repoRoot, '.vm-cache');
  const dir = path.join(cache, 'guest-build');
  const outDir = path.join(dir, 'out');
  fs.mkdirSync(dir, { recursive: true });
  const rel = (p: string) => path.relative(dir, path.join(repoRoot, p)).split(path.sep).join('/');
  const tsconfig = {
    extends: rel('tsconfig.json'),
    compilerOptions: {
      rootDir: rel('.'),
      outDir: 'out',
      noEmit: false,
      sourceMap: false,
      declaration: false,
      incremental: true,
      tsBuildInfoFile: 'tsbuildinfo',
      // Decide from each file's imports alone; the guest has no node_modules.
      types: ['node'],
    },
    files: entries.map(rel),
    include: [],
  };
  const configFile = path.join(dir, 'tsconfig.json');
  const text = JSON.stringify(tsconfig, null, 2);
  if (!fs.existsSync(configFile) || fs.readFileSync(configFile, 'utf8') !== text) {
    fs.writeFileSync(configFile, text);
    // Entries changed: start clean so no stale module from an earlier set lingers.
    fs.rmSync(outDir, { recursive: true, force: true });
    fs.rmSync(path.join(dir, 'tsbuildinfo'), { force: true });
  }
  const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    await execFileAsync(process.execPath, [tsc, '-p', configFile], { cwd: repoRoot, maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`tsc for the guest failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`.trim());
  }
  const files = listJs(outDir).map((f) => ({
    src: path.join(outDir, f),
    dest: f.split(path.sep).join('/'),
  }));
  return { outDir, files, ms: Date.now() - started };
}

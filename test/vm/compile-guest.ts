// Turns the TypeScript the guest needs (the shared driver cases and the src/kernel modules they
// import) into JavaScript at the same repo-relative paths, under .vm-cache/guest-build/out/;
// the guest gets that tree under /app, so relative imports resolve there exactly as in the repo.
//
// Transpile only (the project's TypeScript, file by file, with the project's emit options such
// as useDefineForClassFields): type checking is the build's and the typecheck script's job, and
// a full tsc run costs seconds per test run on a loaded 2-core machine, this ~0.3 s. The files
// are found by following relative imports from the entries; `import type` is erased, so a
// type-only dependency is not shipped unless it is an entry itself. A file whose content has
// not changed since the last run is not transpiled again (nor is TypeScript even loaded).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as TS from 'typescript';
import { repoRoot, type InitramfsFile } from '../../scripts/vm/build-initramfs.mjs';

export interface GuestBuild {
  /** The output tree, laid out like the repo (src/..., test/...). */
  outDir: string;
  /** Every emitted .js file as an initramfs entry at its repo-relative path. */
  files: InitramfsFile[];
  ms: number;
}

type Ts = typeof TS;
let compilerOptions: TS.CompilerOptions | undefined;

/** The project's tsconfig options, set to emit plain ES modules. */
function projectOptions(ts: Ts): TS.CompilerOptions {
  if (compilerOptions) return compilerOptions;
  const configPath = path.join(repoRoot, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, (f) => ts.sys.readFile(f));
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, repoRoot, undefined, configPath);
  compilerOptions = {
    ...parsed.options,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    sourceMap: false,
    inlineSourceMap: false,
    declaration: false,
    noEmit: false,
    // transpileModule writes nothing itself; these only feed TypeScript 6's layout checks.
    rootDir: repoRoot,
    outDir: undefined,
    tsBuildInfoFile: undefined,
    incremental: false,
  };
  return compilerOptions;
}

// Static imports/exports and dynamic import() of relative specifiers, in emitted JavaScript.
const IMPORT_RE = /(?:\bfrom\s*|\bimport\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\1/g;

/** The .ts source behind a relative .js specifier (nodenext style), if there is one. */
function sourceFor(fromFile: string, specifier: string): string | null {
  const target = path.resolve(path.dirname(fromFile), specifier);
  for (const candidate of [target.replace(/\.js$/, '.ts'), target.replace(/\.mjs$/, '.mts'), target]) {
    if (/\.(ts|mts)$/.test(candidate) && fs.existsSync(candidate)) return candidate;
  }
  return null;
}

interface Manifest {
  /** TypeScript version and tsconfig.json content: a change invalidates every entry. */
  key: string;
  files: Record<string, { hash: string; deps: string[] }>;
}

const sha = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex').slice(0, 20);

function readManifest(file: string, key: string): Manifest {
  try {
    const m = JSON.parse(fs.readFileSync(file, 'utf8')) as Manifest;
    if (m.key === key && m.files) return m;
  } catch {
    // none yet, or unreadable: start over
  }
  return { key, files: {} };
}

/** @param entries repo-relative .ts files, e.g. ['test/shared/cgroup-driver-cases.ts'] */
export async function compileForGuest(entries: string[]): Promise<GuestBuild> {
  const started = Date.now();
  const cache = process.env.NSGATE_VM_CACHE ?? path.join(repoRoot, '.vm-cache');
  const buildDir = path.join(cache, 'guest-build');
  const outDir = path.join(buildDir, 'out');
  const manifestFile = path.join(buildDir, 'manifest.json');
  const tsVersion = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules/typescript/package.json'), 'utf8')) as { version: string }).version;
  const key = sha(`${tsVersion}\n${fs.readFileSync(path.join(repoRoot, 'tsconfig.json'), 'utf8')}`);
  const manifest = readManifest(manifestFile, key);
  let ts: Ts | undefined;

  const emitted = new Map<string, string | null>(); // repo-relative .js path -> new code, or null if unchanged
  const queue = entries.map((e) => path.resolve(repoRoot, e));
  const seen = new Set<string>();
  while (queue.length) {
    const file = queue.shift()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const rel = path.relative(repoRoot, file).split(path.sep).join('/');
    if (rel.startsWith('..')) throw new Error(`guest source outside the repo: ${file}`);
    const jsRel = rel.replace(/\.ts$/, '.js').replace(/\.mts$/, '.mjs');
    const source = fs.readFileSync(file, 'utf8');
    const hash = sha(source);
    const known = manifest.files[rel];
    if (known && known.hash === hash && fs.existsSync(path.join(outDir, jsRel))) {
      emitted.set(jsRel, null);
      for (const dep of known.deps) queue.push(path.join(repoRoot, dep));
      continue;
    }
    ts ??= ((await import('typescript')) as unknown as { default: Ts }).default;
    const out = ts.transpileModule(source, {
      compilerOptions: projectOptions(ts),
      fileName: file,
      reportDiagnostics: true,
    });
    const errors = (out.diagnostics ?? []).filter((d) => d.category === ts!.DiagnosticCategory.Error);
    if (errors.length) {
      const text = errors.map((d) => ts!.flattenDiagnosticMessageText(d.messageText, '\n')).join('\n');
      throw new Error(`transpiling ${rel} for the guest failed:\n${text}`);
    }
    emitted.set(jsRel, out.outputText);
    const deps: string[] = [];
    for (const m of out.outputText.matchAll(IMPORT_RE)) {
      const dep = sourceFor(file, m[2]!);
      if (dep) {
        deps.push(path.relative(repoRoot, dep).split(path.sep).join('/'));
        queue.push(dep);
      }
    }
    manifest.files[rel] = { hash, deps };
  }

  // Rewrite only what changed, so the project layer's content hash stays put otherwise.
  const files: InitramfsFile[] = [];
  const keep = new Set<string>();
  for (const [rel, code] of emitted) {
    const dest = path.join(outDir, rel);
    keep.add(dest);
    if (code !== null && (!fs.existsSync(dest) || fs.readFileSync(dest, 'utf8') !== code)) {
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.writeFileSync(dest, code);
    }
    files.push({ src: dest, dest: rel });
  }
  removeStale(outDir, keep);
  fs.mkdirSync(buildDir, { recursive: true });
  fs.writeFileSync(manifestFile, JSON.stringify(manifest));
  return { outDir, files, ms: Date.now() - started };
}

function removeStale(dir: string, keep: Set<string>): void {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) removeStale(full, keep);
    else if (!keep.has(full)) fs.rmSync(full, { force: true });
  }
}

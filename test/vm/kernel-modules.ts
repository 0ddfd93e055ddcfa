// A few modules of the guest's kernel, for cases that need more than what Debian builds in
// (the guest loads no module by itself): taken from the same linux-image package as the kernel,
// downloaded once with `apt-get download` and cached in .vm-cache/modules/<package>/. They go to
// /app/vm-tools/modules/<name>.ko; the guest insmods them in dependency order.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot, type InitramfsFile } from '../../scripts/vm/build-initramfs.mjs';

export const GUEST_MODULES_DIR = 'vm-tools/modules';

/**
 * @param kernelPath what prepareKernel() answers (.vm-cache/kernel/<package>/vmlinux)
 * @param names module file names without .ko, e.g. ['loop', 'ext4']
 */
export function guestModules(kernelPath: string, names: readonly string[]): InitramfsFile[] {
  const pkg = path.basename(path.dirname(kernelPath));
  if (!/^linux-image-[0-9][A-Za-z0-9.+-]*$/.test(pkg)) throw new Error(`cannot tell the kernel package from ${kernelPath}`);
  const cache = path.join(process.env.NSGATE_VM_CACHE ?? path.join(repoRoot, '.vm-cache'), 'modules', pkg);
  const have = (name: string) => fs.existsSync(path.join(cache, `${name}.ko`));
  if (!names.every(have)) {
    fs.mkdirSync(path.dirname(cache), { recursive: true });
    const tmp = fs.mkdtempSync(path.join(path.dirname(cache), `.${pkg}-`));
    try {
      execFileSync('apt-get', ['download', '-qq', '-o', 'APT::Sandbox::User=root', pkg], { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] });
      const deb = fs.readdirSync(tmp).find((f) => f.endsWith('.deb'));
      if (!deb) throw new Error(`apt-get download ${pkg} produced no .deb`);
      const patterns = names.map((n) => `./lib/modules/*/${n}.ko`);
      execFileSync('bash', ['-c', 'set -o pipefail; dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards "${@:3}"', 'bash', path.join(tmp, deb), tmp, ...patterns], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      fs.mkdirSync(cache, { recursive: true });
      const found = new Map<string, string>();
      const walk = (dir: string): void => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
          const full = path.join(dir, e.name);
          if (e.isDirectory()) walk(full);
          else if (e.name.endsWith('.ko')) found.set(e.name.slice(0, -3), full);
        }
      };
      walk(path.join(tmp, 'lib'));
      for (const name of names) {
        const src = found.get(name);
        if (!src) throw new Error(`${pkg} has no ${name}.ko`);
        fs.copyFileSync(src, path.join(cache, `${name}.ko`));
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  return names.map((name) => ({ src: path.join(cache, `${name}.ko`), dest: `${GUEST_MODULES_DIR}/${name}.ko` }));
}

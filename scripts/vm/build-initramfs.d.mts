// Types for build-initramfs.mjs, so TypeScript tests can import it.

/**
 * A repo-relative file or directory (lands at /app/PATH, mode 0644), or any file placed at
 * /app/DEST (mode 0644 unless given, e.g. 0o755 for a program the guest runs).
 */
export type InitramfsFile = string | { src: string; dest: string; mode?: number };

export interface InitramfsBuild {
  /** The file to pass to qemu's -initrd. */
  initrd: string;
  baseBuilt: boolean;
  projectBuilt: boolean;
  projectFiles: number;
  bytes: number;
  ms: number;
}

export declare const repoRoot: string;

export declare function buildInitramfs(options: { files: InitramfsFile[]; gzip?: boolean }): InitramfsBuild;

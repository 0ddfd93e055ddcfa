// Types for build-initramfs.mjs, so TypeScript tests can import it.

/**
 * A repo-relative file or directory (lands at /app/PATH, mode 0644), or any file placed at
 * /app/DEST (mode 0644 unless given, e.g. 0o755 for a program the guest runs).
 */
export type InitramfsFile = string | { src: string; dest: string; mode?: number };

/** An extra cached layer: entries at absolute guest paths (see buildLayer in build-initramfs.mjs). */
export interface InitramfsLayer {
  /** [a-z0-9-]+; also names the cached files. */
  name: string;
  /** When given, the cache key instead of each source's path, size and mtime. */
  key?: string;
  entries: Array<{ dest: string; src?: string; data?: Buffer; mode?: number; symlink?: string; dir?: boolean }>;
}

export interface InitramfsBuild {
  /** The file to pass to qemu's -initrd. */
  initrd: string;
  baseBuilt: boolean;
  /** Per extra layer: whether it had to be rebuilt. */
  layersBuilt: Record<string, boolean>;
  projectBuilt: boolean;
  projectFiles: number;
  bytes: number;
  ms: number;
}

export declare const repoRoot: string;

export declare function buildInitramfs(options: { files: InitramfsFile[]; layers?: InitramfsLayer[]; gzip?: boolean }): InitramfsBuild;

export declare function sharedLibraries(binary: string): string[];

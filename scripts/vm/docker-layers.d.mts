// Types for docker-layers.mjs, so TypeScript tests can import it.
import type { InitramfsLayer } from './build-initramfs.d.mts';

export declare const TEST_IMAGE: string;
export declare const GUEST_IMAGE_TAR: string;

/** The test image as a `docker save` tarball from the engine at dockerHost, cached by image id. */
export declare function savedTestImage(dockerHost?: string): { file: string; id: string };

/** Debian docker.io's engine and CLI with their libraries, and the test image tarball. */
export declare function dockerLayer(options?: { dockerHost?: string }): InitramfsLayer;

/** nsgate's production node_modules under /app/node_modules (typescript left out). */
export declare function modulesLayer(): InitramfsLayer;

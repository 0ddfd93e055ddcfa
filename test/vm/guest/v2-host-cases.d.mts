// Types for v2-host-cases.mjs: the host imports the case names to declare one test per case.
import type { DriverCase } from '../../shared/cgroup-driver-cases.js';

export declare const v2HostCases: DriverCase[];

/** The kernel modules the cases insmod, in dependency order (shipped under /app/vm-tools/modules). */
export declare const GUEST_MODULE_ORDER: string[];

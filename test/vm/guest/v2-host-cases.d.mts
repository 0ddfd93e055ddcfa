// Types for v2-host-cases.mjs: the host imports the case names to declare one test per case.
import type { DriverCase } from '../../shared/cgroup-driver-cases.js';

export declare const v2HostCases: DriverCase[];

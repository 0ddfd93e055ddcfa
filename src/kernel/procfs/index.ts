// The public face of the procfs readers: one reader per file of /proc/PID.
export * from './proc-file.js';
export * from './pids.js';
export * from './stat.js';
export * from './start-time.js';
export * from './status.js';
export * from './cmdline.js';
export * from './comm.js';
export * from './namespace-types.js';
export * from './namespace-links.js';
export * from './cgroup.js';
export * from './environ.js';
export * from './lsm-label.js';
export * from './owner.js';
export * from './user-names.js';
export * from './net-dev.js';
export * from './meminfo.js';

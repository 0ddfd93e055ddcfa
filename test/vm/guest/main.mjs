// The VM's test entry (run by /init as `node /app/test/vm/guest/main.mjs`). One boot runs:
//   kernel  plain-fs checks of the cgroup v2 files themselves (kernel-cases.mjs);
//   driver  nsgate's CgroupSystem on this v2 kernel: the v2-only cases (v2-host-cases.mjs,
//           which also drive the exec layer's NamespaceExecutor with the host-built helper)
//           and the shared vocabulary cases of test/shared/cgroup-driver-cases.ts, compiled
//           to JS by test/vm/compile-guest.ts and shipped at the same repo paths.
// Exit code: 0 when every case passed.
import { randomBytes } from 'node:crypto';
import { cases as kernelCases, cleanupKernelCases } from './kernel-cases.mjs';
import { assert, runCases } from './protocol.mjs';
import { v2HostCases } from './v2-host-cases.mjs';

let failed = await runCases('kernel', kernelCases, (detail) => detail);
try {
  cleanupKernelCases();
} catch (e) {
  console.log(`kernel cleanup: ${e.message}`);
  failed++;
}

// Loaded after the kernel cases, so a driver that does not load still leaves those results.
let driver;
try {
  const [{ CgroupSystem }, shared, { NamespaceExecutor }] = await Promise.all([
    import('../../../src/kernel/cgroups/index.js'),
    import('../../shared/cgroup-driver-cases.js'),
    import('../../../src/kernel/exec/index.js'),
  ]);
  driver = { CgroupSystem, NamespaceExecutor, ...shared };
} catch (e) {
  console.log(JSON.stringify({ suite: 'driver', case: '(load)', ok: false, error: `could not load the driver: ${e.stack ?? e}` }));
  process.exit(1);
}

const { CgroupSystem, NamespaceExecutor, cgroupDriverCases, removeTestTree } = driver;
const parent = `/nsgate-test-${randomBytes(4).toString('hex')}`;
const started = new Set();
const system = CgroupSystem.fromHost({ managed: [parent] });
await system.create(parent);
const context = (detail) => ({
  system,
  systemWith: (managed, options = {}) => CgroupSystem.fromHost({ ...options, managed }),
  // v2-host-cases only: nsgate's exec layer, with the host-built helper at /app/dist/native/nsgate-exec
  NamespaceExecutor,
  parent,
  assert,
  detail,
  started,
  nodePath: process.execPath,
  shell: '/bin/sh',
});

failed += await runCases('driver', [...v2HostCases, ...cgroupDriverCases], context);

for (const pid of started) {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}
const left = await removeTestTree(system.hierarchies, parent, started);
if (left.length) {
  console.log(`driver cleanup left: ${left.join('; ')}`);
  failed++;
}
process.exitCode = failed ? 1 : 0;

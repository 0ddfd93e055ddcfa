// Sandboxes, the tutorial's `unshare`: a command in new namespaces, inside its own limited
// cgroup, with no capabilities. Framework-free; the sandbox service wraps SandboxManager.
export * from './manager.js';
export * from './request.js';

// The exec worker's public face: pin a process, validate a request, run it in the process's
// namespaces through the nsgate-exec helper. Framework-free; the exec service wraps it.
export * from './executor.js';
export * from './helper.js';
export * from './limiter.js';
export * from './output.js';
export * from './pin.js';
export * from './request.js';

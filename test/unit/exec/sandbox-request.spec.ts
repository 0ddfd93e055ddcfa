import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NsgateError } from '../../../src/kernel/errors.js';
import { parseSandboxRequest, validateCapabilities, validateRootfs } from '../../../src/kernel/sandbox/request.js';

const parse = (input: unknown) => parseSandboxRequest(input, { lastCap: 40 });
function refusal(fn: () => unknown): NsgateError {
  try {
    fn();
  } catch (err) {
    if (err instanceof NsgateError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

const scratch = mkdtempSync(join(tmpdir(), 'nsgate-sandbox-spec-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('sandbox requests', () => {
  it('default to the tutorial\'s unshare: new pid, mnt, uts, ipc, net; no capabilities; no_new_privs; read-only root', () => {
    expect(parse({ argv: ['ps'] })).toEqual({
      argv: ['ps'],
      namespaces: ['ipc', 'mnt', 'net', 'pid', 'uts'],
      capabilities: [],
      noNewPrivs: true,
      readOnlyRoot: true,
      env: {},
      maxOutputBytes: 1024 * 1024,
    });
  });

  it('always have a mount namespace, and never user or time ones', () => {
    expect(refusal(() => parse({ argv: ['ps'], namespaces: ['pid', 'net'] })).details).toMatchObject({ field: 'namespaces' });
    expect(refusal(() => parse({ argv: ['ps'], namespaces: ['mnt', 'user'] })).details).toMatchObject({ field: 'namespaces' });
    expect(refusal(() => parse({ argv: ['ps'], namespaces: ['mnt', 'time'] })).details).toMatchObject({ field: 'namespaces' });
    expect(parse({ argv: ['ps'], namespaces: ['mnt', 'cgroup'] }).namespaces).toEqual(['cgroup', 'mnt']);
  });

  it('take a hostname only with a uts namespace', () => {
    expect(parse({ argv: ['ps'], hostname: 'db-1.local' }).hostname).toBe('db-1.local');
    expect(refusal(() => parse({ argv: ['ps'], hostname: 'a b' })).details).toMatchObject({ field: 'hostname' });
    expect(refusal(() => parse({ argv: ['ps'], hostname: 'x'.repeat(65) })).details).toMatchObject({ field: 'hostname' });
    expect(refusal(() => parse({ argv: ['ps'], hostname: 'box', namespaces: ['mnt', 'pid'] })).details).toMatchObject({ field: 'hostname' });
  });

  it('keep capabilities by any usual spelling, once each, known to the kernel', () => {
    expect(validateCapabilities(['CAP_NET_RAW', 'net_bind_service', 'cap_net_raw', '12'], 40)).toEqual(['cap_net_bind_service', 'cap_net_admin', 'cap_net_raw']);
    expect(refusal(() => validateCapabilities(['cap_bogus'], 40)).details).toMatchObject({ field: 'capabilities' });
    expect(refusal(() => validateCapabilities(['checkpoint_restore'], 39)).details).toMatchObject({ field: 'capabilities' });
    expect(refusal(() => validateCapabilities('cap_net_raw', 40)).details).toMatchObject({ field: 'capabilities' });
  });

  it('take booleans, limits as an object, a timeout, and refuse unknown fields', () => {
    const r = parse({ argv: ['x'], noNewPrivs: false, readOnlyRoot: false, limits: { memory: { max: '64M' } }, timeoutMs: 5 });
    expect(r).toMatchObject({ noNewPrivs: false, readOnlyRoot: false, limits: { memory: { max: '64M' } }, timeoutMs: 5 });
    expect(refusal(() => parse({ argv: ['x'], noNewPrivs: 'yes' })).details).toMatchObject({ field: 'noNewPrivs' });
    expect(refusal(() => parse({ argv: ['x'], limits: [] })).details).toMatchObject({ field: 'limits' });
    expect(refusal(() => parse({ argv: ['x'], privileged: true })).details).toMatchObject({ field: 'privileged' });
    expect(refusal(() => parse({ argv: 'sh -c x' })).details).toMatchObject({ field: 'argv' });
  });
});

describe('rootfs', () => {
  it('is resolved to its real path and needs a /proc to mount on when there is a pid namespace', () => {
    const root = join(scratch, 'root');
    mkdirSync(join(root, 'proc'), { recursive: true });
    symlinkSync(root, join(scratch, 'link'));
    expect(validateRootfs(join(scratch, 'link'), ['mnt', 'pid'])).toBe(root);
    const bare = join(scratch, 'bare');
    mkdirSync(bare);
    expect(refusal(() => validateRootfs(bare, ['mnt', 'pid'])).details).toMatchObject({ field: 'rootfs' });
    expect(validateRootfs(bare, ['mnt'])).toBe(bare);
  });

  it('is an existing directory, not the host root, not under /proc, /sys or /dev', () => {
    writeFileSync(join(scratch, 'file'), 'x');
    for (const rootfs of ['/', '/proc/1/root', '/sys', '/dev', join(scratch, 'missing'), join(scratch, 'file'), 'relative', '/x\0y']) {
      expect(refusal(() => validateRootfs(rootfs, ['mnt'])).details, rootfs).toMatchObject({ field: 'rootfs' });
    }
  });
});

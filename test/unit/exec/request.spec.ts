import { describe, expect, it } from 'vitest';
import { NsgateError } from '../../../src/kernel/errors.js';
import {
  commandEnvironment,
  DEFAULT_EXEC_LIMITS,
  DEFAULT_EXEC_PATH,
  execLimits,
  parseExecRequest,
  reachesProcessDescriptors,
  validateArgv,
  validateCwd,
  validateEnv,
  validateNamespaces,
  validateUser,
} from '../../../src/kernel/exec/request.js';

const limits = execLimits();

function refusal(fn: () => unknown): NsgateError {
  try {
    fn();
  } catch (err) {
    if (err instanceof NsgateError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('argv', () => {
  it('takes a list of strings as it is (no shell: one entry per argument)', () => {
    expect(validateArgv(['sh', '-c', 'echo $HOME; rm -rf /'], limits)).toEqual(['sh', '-c', 'echo $HOME; rm -rf /']);
    expect(validateArgv(['ps', ''], limits)).toEqual(['ps', '']);
  });

  it.each([
    ['a string (a shell line)', 'ps aux'],
    ['an empty list', []],
    ['a non-string entry', ['ls', 1]],
    ['an empty command', ['', 'x']],
    ['NUL in an entry', ['ls', 'a\0b']],
  ])('refuses %s', (_, argv) => {
    expect(refusal(() => validateArgv(argv, limits)).code).toBe('VALIDATION_FAILED');
  });

  it('bounds the count and the bytes', () => {
    const small = execLimits({ maxArgs: 3, maxArgvBytes: 10 });
    expect(validateArgv(['a', 'b', 'c'], small)).toHaveLength(3);
    expect(refusal(() => validateArgv(['a', 'b', 'c', 'd'], small)).details).toMatchObject({ count: 4, max: 3 });
    // 'abcd' + NUL + 'efgh' + NUL = 10 bytes: fits; one more byte does not (multi-byte characters count as bytes).
    expect(validateArgv(['abcd', 'efgh'], small)).toHaveLength(2);
    expect(refusal(() => validateArgv(['abcd', 'efgé'], small)).details).toMatchObject({ bytes: 11, max: 10 });
  });

  it('refuses arguments that go through a process descriptor, cwd, root or exe, however spelled', () => {
    for (const arg of [
      '/proc/self/fd/3',
      '/proc/1/cwd',
      '/proc/1/cwd/etc/shadow',
      '/proc/self/root/etc',
      '/proc/thread-self/fd/0',
      '/proc/42/task/42/fd/7',
      '/proc/self/exe',
      '/proc/1/map_files/x',
      '--input=/proc/self/fd/7',
      '/proc//self///fd/3',
      '/proc/./self/fd/3',
      '/proc/self/../self/fd/3',
      '/dev/fd/5',
      'if=/dev/fd/3',
    ]) {
      expect(reachesProcessDescriptors(arg), arg).toBe(true);
      expect(refusal(() => validateArgv(['cat', arg], limits)).details).toMatchObject({ field: 'argv', index: 1 });
    }
  });

  it('lets ordinary /proc reads and the listing of /proc/self/fd through', () => {
    for (const arg of ['/proc/self/fd', '/proc/self/fd/', '/proc/self/status', '/proc/1/cgroup', '/proc/self/fdinfo', '/proc/cwdx', '/procs/1/fd/3', '/dev/fd', '/dev/null']) {
      expect(reachesProcessDescriptors(arg), arg).toBe(false);
    }
  });
});

describe('env', () => {
  it('is empty unless given, and then holds only the caller\'s variables', () => {
    expect(validateEnv(undefined, limits)).toEqual({});
    expect(validateEnv({ LANG: 'C.UTF-8', _X1: 'a=b' }, limits)).toEqual({ LANG: 'C.UTF-8', _X1: 'a=b' });
    expect(validateEnv(['A=1', 'B=x=y', 'C='], limits)).toEqual({ A: '1', B: 'x=y', C: '' });
  });

  it('gives the command PATH (the default, or the caller\'s) and nothing of nsgate\'s own environment', () => {
    expect(commandEnvironment({})).toEqual([`PATH=${DEFAULT_EXEC_PATH}`]);
    expect(DEFAULT_EXEC_PATH).toBe('/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(commandEnvironment({ TERM: 'dumb', PATH: '/bin' })).toEqual(['PATH=/bin', 'TERM=dumb']);
    process.env.NSGATE_UNIT_SECRET = 'x';
    try {
      expect(commandEnvironment({}).join('\n')).not.toContain('NSGATE_UNIT_SECRET');
    } finally {
      delete process.env.NSGATE_UNIT_SECRET;
    }
  });

  it.each([
    ['a name with a dash', { 'A-B': '1' }],
    ['a name starting with a digit', { '1A': '1' }],
    ['an empty name', { '': '1' }],
    ['a name with =', ['=x']],
    ['a name with a space', { 'A B': '1' }],
    ['a number as value', { A: 1 }],
    ['NUL in a value', { A: 'a\0b' }],
    ['a name given twice', ['A=1', 'A=2']],
    ['a string', 'A=1'],
  ])('refuses %s', (_, env) => {
    expect(refusal(() => validateEnv(env, limits)).code).toBe('VALIDATION_FAILED');
  });

  it('bounds the count and the bytes', () => {
    const small = execLimits({ maxEnv: 2, maxEnvBytes: 8 });
    expect(refusal(() => validateEnv({ A: '1', B: '2', C: '3' }, small)).details).toMatchObject({ count: 3 });
    expect(refusal(() => validateEnv({ A: '123456' }, small)).details).toMatchObject({ bytes: 9 });
  });

  it('does not let a prototype key through', () => {
    expect(validateEnv(JSON.parse('{"__proto__": "x"}'), limits)).toEqual({ ['__proto__']: 'x' });
    expect(Object.getPrototypeOf(validateEnv(JSON.parse('{"__proto__": "x"}'), limits))).toBe(Object.prototype);
  });
});

describe('cwd', () => {
  it('is absolute and folded', () => {
    expect(validateCwd(undefined, limits)).toBeUndefined();
    expect(validateCwd('/var//lib/./x/', limits)).toBe('/var/lib/x');
    expect(validateCwd('/', limits)).toBe('/');
    expect(refusal(() => validateCwd('tmp', limits)).code).toBe('VALIDATION_FAILED');
  });

  it('is never under /proc or /dev/fd (CVE-2024-21626: a working directory that is a leaked descriptor)', () => {
    for (const cwd of ['/proc/self/fd/7', '/proc/1/cwd', '/proc', '/proc/', '/tmp/../proc/self/cwd', '//proc/1/root', '/dev/fd', '/dev/fd/3', '/x/../dev/fd/4']) {
      expect(refusal(() => validateCwd(cwd, limits)).details, cwd).toMatchObject({ field: 'cwd' });
    }
  });
});

describe('namespaces', () => {
  it('defaults to what it is given and orders the list', () => {
    expect(validateNamespaces(undefined, ['mnt', 'uts', 'ipc', 'net', 'pid'])).toEqual(['ipc', 'mnt', 'net', 'pid', 'uts']);
    expect(validateNamespaces(['pid', 'mnt', 'user', 'time', 'cgroup'], [])).toEqual(['cgroup', 'mnt', 'pid', 'time', 'user']);
  });

  it('refuses unknown, repeated, empty and disallowed ones', () => {
    expect(refusal(() => validateNamespaces(['mnt', 'mount'], [])).code).toBe('VALIDATION_FAILED');
    expect(refusal(() => validateNamespaces(['mnt', 'mnt'], [])).code).toBe('VALIDATION_FAILED');
    expect(refusal(() => validateNamespaces([], ['mnt'])).code).toBe('VALIDATION_FAILED');
    expect(refusal(() => validateNamespaces(['user'], [], ['mnt', 'pid'])).code).toBe('VALIDATION_FAILED');
  });
});

describe('user', () => {
  it('takes numbers only: uid, "uid:gid" or an object', () => {
    expect(validateUser(undefined)).toBeUndefined();
    expect(validateUser(1000)).toEqual({ uid: 1000, gid: 1000, groups: [] });
    expect(validateUser('0')).toEqual({ uid: 0, gid: 0, groups: [] });
    expect(validateUser('33:44')).toEqual({ uid: 33, gid: 44, groups: [] });
    expect(validateUser({ uid: 5, gid: 6, groups: [7, 8] })).toEqual({ uid: 5, gid: 6, groups: [7, 8] });
  });

  it('refuses names (they would be read from the target\'s own /etc/passwd), negatives and (uid_t)-1', () => {
    for (const user of ['root', 'www-data:www-data', -1, 4294967295, '1000:', { uid: 'a' }, { uid: 1, groups: 'x' }, 1.5]) {
      expect(refusal(() => validateUser(user)).code).toBe('VALIDATION_FAILED');
    }
  });
});

describe('parseExecRequest', () => {
  it('fills the defaults', () => {
    expect(parseExecRequest({ argv: ['ps', 'aux'] })).toEqual({
      argv: ['ps', 'aux'],
      namespaces: ['ipc', 'mnt', 'net', 'pid', 'uts'],
      timeoutMs: DEFAULT_EXEC_LIMITS.defaultTimeoutMs,
      maxOutputBytes: DEFAULT_EXEC_LIMITS.defaultMaxOutputBytes,
      env: {},
      privileged: false,
    });
    expect(parseExecRequest({ argv: ['true'] }, { defaultNamespaces: ['net'] }).namespaces).toEqual(['net']);
  });

  it('takes every field, and is idempotent on its own output', () => {
    const input = { argv: ['cat'], namespaces: ['net'], timeoutMs: 50, maxOutputBytes: 10, user: '1:2', cwd: '/tmp/', env: { A: 'b' }, stdin: 'hi' };
    const parsed = parseExecRequest(input);
    expect(parsed).toEqual({ argv: ['cat'], namespaces: ['net'], timeoutMs: 50, maxOutputBytes: 10, user: { uid: 1, gid: 2, groups: [] }, cwd: '/tmp', env: { A: 'b' }, stdin: 'hi', privileged: false });
    expect(parseExecRequest(parsed)).toEqual(parsed);
  });

  it('refuses unknown fields, out-of-range bounds and oversized stdin', () => {
    expect(refusal(() => parseExecRequest({ argv: ['x'], shell: true })).details).toMatchObject({ field: 'shell' });
    expect(refusal(() => parseExecRequest({ argv: ['x'], timeoutMs: 0 })).details).toMatchObject({ field: 'timeoutMs' });
    expect(refusal(() => parseExecRequest({ argv: ['x'], timeoutMs: 10 * 60_000 + 1 })).details).toMatchObject({ field: 'timeoutMs' });
    expect(refusal(() => parseExecRequest({ argv: ['x'], maxOutputBytes: 1.5 })).details).toMatchObject({ field: 'maxOutputBytes' });
    expect(refusal(() => parseExecRequest({ argv: ['x'], stdin: 'abc' }, { limits: { maxStdinBytes: 2 } })).details).toMatchObject({ field: 'stdin', bytes: 3 });
    expect(refusal(() => parseExecRequest(['ps'])).code).toBe('VALIDATION_FAILED');
    expect(refusal(() => parseExecRequest(null)).code).toBe('VALIDATION_FAILED');
  });
});

import { fileURLToPath } from 'node:url';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { statusOf } from '../../../src/common/errors.js';
import { helperFailure } from '../../../src/kernel/exec/executor.js';
import { checkHelperBinary, type HelperOutcome, parseHelperLine, signalName } from '../../../src/kernel/exec/helper.js';
import { CappedOutput } from '../../../src/kernel/exec/output.js';

describe('the helper channel', () => {
  it('reads every line the helper writes', () => {
    expect(parseHelperLine('entered mnt=4026532177 pid=4026532179 uts=4026532178')).toEqual({
      kind: 'entered',
      namespaces: { mnt: '4026532177', pid: '4026532179', uts: '4026532178' },
    });
    expect(parseHelperLine('child 1234')).toEqual({ kind: 'child', pid: 1234 });
    expect(parseHelperLine('exit 0')).toEqual({ kind: 'exit', code: 0 });
    expect(parseHelperLine('signal 9')).toEqual({ kind: 'signal', signal: 9 });
    expect(parseHelperLine('error gone - process 5 started at 7, not 6: the pid was reused')).toEqual({
      kind: 'error',
      stage: 'gone',
      errno: null,
      message: 'process 5 started at 7, not 6: the pid was reused',
    });
    expect(parseHelperLine('error exec ENOENT nope: No such file or directory')).toMatchObject({ stage: 'exec', errno: 'ENOENT' });
  });

  it('ignores what it does not know, and keeps inode numbers as strings (they pass 2^32)', () => {
    for (const line of ['', 'hello', 'child x', 'child -1', 'exit 300', 'signal 0', 'error']) expect(parseHelperLine(line), line).toBeNull();
    expect(parseHelperLine('entered net=18446744073709551615 bogus=1 x')).toEqual({ kind: 'entered', namespaces: { net: '18446744073709551615' } });
  });

  it('names signals like Node does', () => {
    expect(signalName(9)).toBe('SIGKILL');
    expect(signalName(15)).toBe('SIGTERM');
    expect(signalName(40)).toBe('SIG40');
  });
});

describe('helper refusals in nsgate\'s vocabulary', () => {
  const outcome = (stage: string, errno: string | null = null, helperExit = 125): HelperOutcome => ({
    entered: null,
    confinement: null,
    childPid: null,
    errors: [{ kind: 'error', stage, errno, message: 'why' }],
    command: null,
    helper: { exitCode: helperExit, signal: null },
    stdout: new CappedOutput(1),
    stderr: new CappedOutput(1),
  });
  const target = { pid: 42, startTimeTicks: 1000 };

  it.each([
    ['gone', null, 'PROCESS_GONE', 410],
    ['gone', 'ESRCH', 'PROCESS_GONE', 410],
    ['cwd', 'ENOTDIR', 'VALIDATION_FAILED', 400],
    ['creds', 'EINVAL', 'VALIDATION_FAILED', 400],
    ['setns', 'EPERM', 'KERNEL_PERMISSION_DENIED', 403],
    ['setns', 'EINVAL', 'KERNEL_INVALID_ARGUMENT', 422],
    ['clone', 'ENOMEM', 'INTERNAL', 500],
    ['usage', null, 'INTERNAL', 500],
  ])('%s (%s) is %s', (stage, errno, code, status) => {
    const err = helperFailure(target, outcome(stage, errno));
    expect(err.code).toBe(code);
    expect(statusOf(err.code)).toBe(status);
    expect(err.details).toMatchObject({ pid: 42, startTimeTicks: 1000, stage });
  });
});

describe('the helper binary', () => {
  // Not under /tmp: every folder above the helper must be writable by no one but root (a sticky
  // root-owned folder like /tmp is accepted, tested below).
  const dir = mkdtempSync(join(fileURLToPath(new URL('.', import.meta.url)), '.helper-spec-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, mode: number) => {
    const path = join(dir, name);
    writeFileSync(path, '#!/bin/true\n');
    chmodSync(path, mode);
    return path;
  };

  it('must be an absolute path to an executable file', () => {
    expect(() => checkHelperBinary('dist/native/nsgate-exec')).toThrow(/absolute/);
    expect(() => checkHelperBinary('/nonexistent/nsgate-exec')).toThrow(/build-native/);
    expect(() => checkHelperBinary(file('plain', 0o644))).toThrow(/not an executable/);
    expect(() => checkHelperBinary(dir)).toThrow(/not an executable/);
  });

  it('that no one but its owner (this process\'s user) can change', () => {
    expect(checkHelperBinary(file('good', 0o755))).toBe(join(dir, 'good'));
    expect(() => checkHelperBinary(file('group-writable', 0o775))).toThrow(/writable by no one else/);
    expect(() => checkHelperBinary(file('world-writable', 0o757))).toThrow(/writable by no one else/);
    chmodSync(dir, 0o777);
    try {
      expect(() => checkHelperBinary(join(dir, 'good'))).toThrow(/folder/);
      // sticky (as /tmp is): others cannot rename or remove what is ours in it
      chmodSync(dir, 0o1777);
      expect(checkHelperBinary(join(dir, 'good'))).toBe(join(dir, 'good'));
    } finally {
      chmodSync(dir, 0o700);
    }
  });
});

import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  ALL_KNOWN_CAPABILITIES_MASK,
  CAPABILITY_NAMES,
  beyondDockerDefault,
  capabilityBit,
  capabilityName,
  decodeCapabilities,
  dockerDefaultCapabilities,
  encodeCapabilities,
  formatCapabilityMask,
  isFullSet,
  parseCapabilityMask,
} from '../../src/kernel/capabilities.js';
import { NsgateError } from '../../src/kernel/errors.js';

/** splitmix64: a tiny seeded generator, so a failing random mask can be reproduced. */
function splitmix64(seed: bigint): () => bigint {
  let state = BigInt.asUintN(64, seed);
  return () => {
    state = BigInt.asUintN(64, state + 0x9e3779b97f4a7c15n);
    let z = state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  };
}

const SEED = 0x6e736761746531n; // "nsgate1"
const hex = (mask: bigint) => mask.toString(16).padStart(16, '0');

function masksToTry(): string[] {
  const masks: string[] = [];
  for (let bit = 0; bit < 64; bit++) masks.push(hex(1n << BigInt(bit)));
  masks.push('0000000000000000', '1ffffffffff', '000001ffffffffff', 'ffffffffffffffff', 'a80425fb', '00000000a80425fb');
  masks.push('000001fffeffffff', '0000003fffffffff', '00000000a82425fb'); // this host's bounding set, a 5.x kernel's full set, +cap_sys_admin
  const next = splitmix64(SEED);
  for (let i = 0; i < 200; i++) masks.push(hex(next()));
  // Real masks live in the low 41 bits: sparse and dense ones there too.
  for (let i = 0; i < 100; i++) masks.push(hex(next() & (i % 2 ? next() : ALL_KNOWN_CAPABILITIES_MASK)));
  return masks;
}

function capshAvailable(): boolean {
  try {
    execFileSync('capsh', ['--decode=0'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** One capsh run decodes every mask: it handles its arguments in order, one line each. */
function capshDecode(masks: string[]): Map<string, string> {
  const out = execFileSync('capsh', masks.map((m) => `--decode=${m}`), { encoding: 'utf8' });
  const lines = out.trimEnd().split('\n');
  expect(lines).toHaveLength(masks.length);
  return new Map(masks.map((mask, i) => [mask, lines[i]!]));
}

describe.runIf(capshAvailable())('decodeCapabilities against the real capsh --decode', () => {
  const masks = masksToTry();
  const capsh = capshDecode(masks);

  it.each(masks)('mask %s', (mask) => {
    const line = capsh.get(mask)!;
    const eq = line.indexOf('=');
    const printedMask = line.slice(0, eq);
    const printedNames = line.slice(eq + 1);
    expect(printedMask).toBe(`0x${formatCapabilityMask(parseCapabilityMask(mask))}`);
    expect(decodeCapabilities(mask)).toEqual(printedNames === '' ? [] : printedNames.split(','));
    expect(decodeCapabilities(`0x${mask}`)).toEqual(decodeCapabilities(mask));
  });

  it('tried every single bit, the edges and 300 random masks', () => {
    expect(masks.length).toBeGreaterThanOrEqual(64 + 6 + 300);
  });
});

describe('decodeCapabilities (pinned capsh output, runs without capsh)', () => {
  it('decodes the tutorial mask to Docker’s fourteen', () => {
    expect(decodeCapabilities('00000000a80425fb')).toEqual([
      'cap_chown', 'cap_dac_override', 'cap_fowner', 'cap_fsetid', 'cap_kill', 'cap_setgid', 'cap_setuid',
      'cap_setpcap', 'cap_net_bind_service', 'cap_net_raw', 'cap_sys_chroot', 'cap_mknod', 'cap_audit_write',
      'cap_setfcap',
    ]);
    expect(dockerDefaultCapabilities()).toEqual(decodeCapabilities('a80425fb'));
    expect(encodeCapabilities(dockerDefaultCapabilities())).toBe('00000000a80425fb');
  });

  it('names bits past cap_checkpoint_restore by number, as capsh does', () => {
    expect(decodeCapabilities('0000020000000000')).toEqual(['41']);
    expect(decodeCapabilities('0x8000000000000000')).toEqual(['63']);
    const all = decodeCapabilities('ffffffffffffffff');
    expect(all).toHaveLength(64);
    expect(all[40]).toBe('cap_checkpoint_restore');
    expect(all.slice(41)).toEqual(Array.from({ length: 23 }, (_, i) => String(41 + i)));
  });

  it('knows every capability through bit 40 and decodes 0 to nothing', () => {
    expect(CAPABILITY_NAMES).toHaveLength(41);
    expect(CAPABILITY_NAMES[21]).toBe('cap_sys_admin');
    expect(CAPABILITY_NAMES[40]).toBe('cap_checkpoint_restore');
    expect(decodeCapabilities('0')).toEqual([]);
    expect(decodeCapabilities('1ffffffffff')).toEqual([...CAPABILITY_NAMES]);
  });

  it.each(['', ' ', 'xyz', '0x', '0xg1', '1ffffffffffffffff', '00000000000000000', '-1', '12 34', '0o17', 'z0', 'a80425fb\nff'])(
    'refuses %j with VALIDATION_FAILED',
    (bad) => {
      expect(() => decodeCapabilities(bad)).toThrowError(NsgateError);
      try {
        decodeCapabilities(bad);
      } catch (err) {
        expect((err as NsgateError).code).toBe('VALIDATION_FAILED');
      }
    },
  );

  it('accepts upper case, 0x/0X and short masks', () => {
    expect(decodeCapabilities('0XA80425FB')).toEqual(decodeCapabilities('a80425fb'));
    expect(decodeCapabilities('10')).toEqual(['cap_fsetid']);
  });
});

describe('encodeCapabilities', () => {
  it('round-trips every mask decode produces', () => {
    for (const mask of masksToTry()) {
      expect(encodeCapabilities(decodeCapabilities(mask))).toBe(hex(parseCapabilityMask(mask)));
    }
  });

  it('pads to 16 digits like /proc/PID/status and ignores order and duplicates', () => {
    expect(encodeCapabilities([])).toBe('0000000000000000');
    expect(encodeCapabilities(['cap_sys_admin'])).toBe('0000000000200000');
    expect(encodeCapabilities(['cap_setfcap', 'cap_chown', 'cap_chown'])).toBe('0000000080000001');
  });

  it('takes libcap’s, Docker’s and numeric spellings', () => {
    expect(capabilityBit('CAP_SYS_ADMIN')).toBe(21);
    expect(capabilityBit('SYS_ADMIN')).toBe(21);
    expect(capabilityBit('41')).toBe(41);
    expect(capabilityBit('cap_63')).toBe(63);
    expect(capabilityName(63)).toBe('63');
  });

  it.each(['cap_nonsense', 'all', '64', 'cap_', ''])('refuses %j', (name) => {
    expect(() => encodeCapabilities([name])).toThrowError(/unknown capability/);
  });
});

describe('set helpers', () => {
  it('isFullSet: every named capability, or every one the engine holds', () => {
    expect(isFullSet('000001ffffffffff')).toBe(true);
    expect(isFullSet('ffffffffffffffff')).toBe(true);
    expect(isFullSet('000001fffeffffff')).toBe(false);
    expect(isFullSet('000001fffeffffff', '000001fffeffffff')).toBe(true);
    expect(isFullSet('00000000a80425fb')).toBe(false);
    expect(isFullSet('0', '0')).toBe(false);
  });

  it('beyondDockerDefault: what a mask adds to a80425fb', () => {
    expect(beyondDockerDefault('00000000a80425fb')).toEqual([]);
    expect(beyondDockerDefault('00000000a82425fb')).toEqual(['cap_sys_admin']);
    expect(beyondDockerDefault('0')).toEqual([]);
    expect(beyondDockerDefault('0000020000200000')).toEqual(['cap_sys_admin', '41']);
    expect(beyondDockerDefault('000001ffffffffff')).toHaveLength(41 - 14);
  });
});

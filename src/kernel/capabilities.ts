import { NsgateError } from './errors.js';

/**
 * Capability names by bit number, as include/uapi/linux/capability.h defines them
 * (CAP_LAST_CAP is CAP_CHECKPOINT_RESTORE, 40, through Linux 6.x) and as libcap spells
 * them in lower case.
 */
export const CAPABILITY_NAMES = [
  'cap_chown', // 0
  'cap_dac_override',
  'cap_dac_read_search',
  'cap_fowner',
  'cap_fsetid',
  'cap_kill', // 5
  'cap_setgid',
  'cap_setuid',
  'cap_setpcap',
  'cap_linux_immutable',
  'cap_net_bind_service', // 10
  'cap_net_broadcast',
  'cap_net_admin',
  'cap_net_raw',
  'cap_ipc_lock',
  'cap_ipc_owner', // 15
  'cap_sys_module',
  'cap_sys_rawio',
  'cap_sys_chroot',
  'cap_sys_ptrace',
  'cap_sys_pacct', // 20
  'cap_sys_admin',
  'cap_sys_boot',
  'cap_sys_nice',
  'cap_sys_resource',
  'cap_sys_time', // 25
  'cap_sys_tty_config',
  'cap_mknod',
  'cap_lease',
  'cap_audit_write',
  'cap_audit_control', // 30
  'cap_setfcap',
  'cap_mac_override',
  'cap_mac_admin',
  'cap_syslog',
  'cap_wake_alarm', // 35
  'cap_block_suspend',
  'cap_audit_read',
  'cap_perfmon',
  'cap_bpf',
  'cap_checkpoint_restore', // 40
] as const;

export type CapabilityName = (typeof CAPABILITY_NAMES)[number];

/** The highest bit this table names; newer kernels may know more (see /proc/sys/kernel/cap_last_cap). */
export const LAST_KNOWN_CAPABILITY = CAPABILITY_NAMES.length - 1;

/** /proc/PID/status and capsh print masks as 64-bit numbers: bits 0..63. */
export const MASK_BITS = 64;

const MASK_PATTERN = /^(?:0x)?([0-9a-f]{1,16})$/i;
const ONE = 1n;

/** Every capability of the table: 000001ffffffffff. */
export const ALL_KNOWN_CAPABILITIES_MASK = (ONE << BigInt(CAPABILITY_NAMES.length)) - ONE;

/**
 * Docker's default set (moby's oci/caps/defaults.go), which the tutorial's container shows
 * as CapEff 00000000a80425fb. Listed in bit order, as decode returns them.
 */
export const DOCKER_DEFAULT_CAPABILITIES: readonly CapabilityName[] = [
  'cap_chown',
  'cap_dac_override',
  'cap_fowner',
  'cap_fsetid',
  'cap_kill',
  'cap_setgid',
  'cap_setuid',
  'cap_setpcap',
  'cap_net_bind_service',
  'cap_net_raw',
  'cap_sys_chroot',
  'cap_mknod',
  'cap_audit_write',
  'cap_setfcap',
];

/** The names of Docker's default set (a fresh array: callers may keep or change it). */
export function dockerDefaultCapabilities(): string[] {
  return [...DOCKER_DEFAULT_CAPABILITIES];
}

/**
 * The name of one bit, as capsh prints it: the table's name, or for a bit the table does
 * not know the plain decimal number ("41"): libcap's cap_to_name() formats unknown
 * capabilities with "%u", so that is what `capsh --decode` shows.
 */
export function capabilityName(bit: number): string {
  if (!Number.isInteger(bit) || bit < 0 || bit >= MASK_BITS) {
    throw new NsgateError('VALIDATION_FAILED', `not a capability bit: ${bit}`, { bit });
  }
  return CAPABILITY_NAMES[bit] ?? String(bit);
}

/**
 * The bit of one capability. Accepts what decode prints ("cap_sys_admin", "41"), libcap's
 * upper case ("CAP_SYS_ADMIN"), Docker's `--cap-add` spelling ("SYS_ADMIN") and "cap_41".
 */
export function capabilityBit(name: string): number {
  const lower = name.trim().toLowerCase();
  const bare = lower.startsWith('cap_') ? lower.slice(4) : lower;
  if (/^\d{1,2}$/.test(bare)) {
    const bit = Number(bare);
    if (bit < MASK_BITS) return bit;
  } else {
    const bit = (CAPABILITY_NAMES as readonly string[]).indexOf(`cap_${bare}`);
    if (bit >= 0) return bit;
  }
  throw new NsgateError('VALIDATION_FAILED', `unknown capability: ${JSON.stringify(name)}`, { name });
}

/**
 * A mask as /proc/PID/status or a user writes it: 1 to 16 hex digits, with or without 0x.
 * Anything else is refused (capsh itself reads garbage as 0 and overlong input as all ones;
 * an API should say no instead).
 */
export function parseCapabilityMask(maskHex: string): bigint {
  const match = typeof maskHex === 'string' ? MASK_PATTERN.exec(maskHex.trim()) : null;
  if (!match) {
    throw new NsgateError(
      'VALIDATION_FAILED',
      'a capability mask is 1 to 16 hexadecimal digits, optionally prefixed with 0x',
      { mask: typeof maskHex === 'string' ? maskHex.slice(0, 64) : String(maskHex) },
    );
  }
  return BigInt(`0x${match[1]}`);
}

/** 16 lower-case hex digits, zero padded, as /proc/PID/status prints CapEff. */
export function formatCapabilityMask(mask: bigint): string {
  if (mask < 0n || mask >> BigInt(MASK_BITS) !== 0n) {
    throw new NsgateError('VALIDATION_FAILED', 'a capability mask has 64 bits', { mask: mask.toString(16) });
  }
  return mask.toString(16).padStart(16, '0');
}

/** The set bits of a mask, lowest first. */
export function maskBits(mask: bigint): number[] {
  const bits: number[] = [];
  for (let bit = 0; bit < MASK_BITS && mask >> BigInt(bit) !== 0n; bit++) {
    if ((mask >> BigInt(bit)) & ONE) bits.push(bit);
  }
  return bits;
}

/** The names `capsh --decode=<mask>` prints after the '=', in its order (lowest bit first). */
export function decodeCapabilities(maskHex: string): string[] {
  return maskBits(parseCapabilityMask(maskHex)).map(capabilityName);
}

/** The mask of a list of capability names (see capabilityBit for the spellings accepted). */
export function encodeCapabilities(names: readonly string[]): string {
  let mask = 0n;
  for (const name of names) mask |= ONE << BigInt(capabilityBit(name));
  return formatCapabilityMask(mask);
}

/**
 * Whether a mask holds every capability of `full` (default: every capability the table
 * names). Pass the set a process could have at most — e.g. the container engine's own
 * bounding set — where that is smaller than the kernel's: a `--privileged` container gets
 * exactly what its engine holds.
 */
export function isFullSet(maskHex: string, full: string | bigint = ALL_KNOWN_CAPABILITIES_MASK): boolean {
  const fullMask = typeof full === 'bigint' ? full : parseCapabilityMask(full);
  return fullMask !== 0n && (parseCapabilityMask(maskHex) & fullMask) === fullMask;
}

/** The capabilities in a mask that Docker's default set does not grant, in bit order. */
export function beyondDockerDefault(maskHex: string): string[] {
  const defaults = parseCapabilityMask(encodeCapabilities(DOCKER_DEFAULT_CAPABILITIES));
  return maskBits(parseCapabilityMask(maskHex) & ~defaults).map(capabilityName);
}

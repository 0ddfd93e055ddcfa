/** The namespace types /proc/PID/ns shows on 5.8+ kernels, in lsns's alphabetical column order. */
export const NAMESPACE_TYPES = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'] as const;

export type NamespaceType = (typeof NAMESPACE_TYPES)[number];

export function isNamespaceType(value: string): value is NamespaceType {
  return (NAMESPACE_TYPES as readonly string[]).includes(value);
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cgroupModeOf, hierarchyLabel, parseCgroupMounts } from '../../../src/kernel/cgroups/index.js';
import { FIXTURES } from './fixture.js';

describe('parseCgroupMounts', () => {
  it('reads the hybrid layout: a v1 hierarchy per controller, a named one, the unified tree', () => {
    const hs = parseCgroupMounts(readFileSync(join(FIXTURES, 'cgroup-v1/mountinfo'), 'utf8'));
    expect(hs.map(hierarchyLabel)).toEqual(['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'name=systemd', 'unified']);
    expect(hs.find((h) => h.controllers.includes('memory'))).toEqual({
      version: 1,
      mountPoint: '/sys/fs/cgroup/memory',
      controllers: ['memory'],
      root: '/',
      device: '0:32',
    });
    // xattr and release_agent= are options, not controllers.
    expect(hs.find((h) => h.name === 'systemd')?.controllers).toEqual([]);
    expect(hs.find((h) => h.version === 2)).toMatchObject({ mountPoint: '/sys/fs/cgroup/unified', controllers: [], root: '/' });
    expect(cgroupModeOf(hs)).toBe('hybrid');
  });

  it('keeps a hierarchy mounted twice once, at its root mount, and undoes octal escapes', () => {
    const text = [
      '90 41 0:35 /docker/abc /mnt/blkio\\040copy rw,relatime - cgroup cgroup rw,blkio',
      '38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio',
      '91 41 0:40 /x /mnt/only\\040here rw - cgroup cgroup rw,cpu,cpuacct',
    ].join('\n');
    const hs = parseCgroupMounts(text);
    expect(hs).toHaveLength(2);
    expect(hs[0]).toMatchObject({ mountPoint: '/sys/fs/cgroup/blkio', root: '/' });
    expect(hs[1]).toMatchObject({ mountPoint: '/mnt/only here', root: '/x', controllers: ['cpu', 'cpuacct'] });
  });

  it('reads a v2-only host, and a host without cgroups', () => {
    const hs = parseCgroupMounts(readFileSync(join(FIXTURES, 'cgroup-v2/mountinfo'), 'utf8'));
    expect(hs).toEqual([{ version: 2, mountPoint: '/sys/fs/cgroup', controllers: [], root: '/', device: '0:26' }]);
    expect(cgroupModeOf(hs)).toBe('v2');
    expect(cgroupModeOf(parseCgroupMounts('22 28 0:21 / /sys rw - sysfs sysfs rw\n'))).toBe('none');
    expect(cgroupModeOf([{ version: 1 }])).toBe('v1');
  });

  it('skips malformed lines', () => {
    expect(parseCgroupMounts('garbage\n1 2 3\n\n')).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { parseNetDev, sumInterfaces } from '../../../src/kernel/procfs/net-dev.js';

// As the kernel prints /proc/PID/net/dev (6.x), with counters past 2^32.
const TEXT = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0: 5441822298   11396    2    3    0     0          0         0  1397017    9154    4    5    0     0       0          0
vethab12cd: 10 1 0 0 0 0 0 0 20 2 0 0 0 0 0 0
`;

describe('parseNetDev', () => {
  it('reads every interface, names and the four receive and transmit counters', () => {
    const all = parseNetDev(TEXT);
    expect(all.map((i) => i.interface)).toEqual(['lo', 'eth0', 'vethab12cd']);
    expect(all[1]).toEqual({
      interface: 'eth0',
      rxBytes: 5441822298,
      rxPackets: 11396,
      rxErrors: 2,
      rxDropped: 3,
      txBytes: 1397017,
      txPackets: 9154,
      txErrors: 4,
      txDropped: 5,
    });
  });

  it('skips the two header lines and anything that is not a full counter line', () => {
    expect(parseNetDev('Inter-|\n face |\n')).toEqual([]);
    expect(parseNetDev(`a\nb\n  eth0: 1 2 3\n`)).toEqual([]);
  });

  it('sums interfaces field by field', () => {
    const [, eth0, veth] = parseNetDev(TEXT);
    expect(sumInterfaces([eth0!, veth!])).toEqual({ rxBytes: 5441822308, rxPackets: 11397, rxErrors: 2, rxDropped: 3, txBytes: 1397037, txPackets: 9156, txErrors: 4, txDropped: 5 });
    expect(sumInterfaces([])).toEqual({ rxBytes: 0, rxPackets: 0, rxErrors: 0, rxDropped: 0, txBytes: 0, txPackets: 0, txErrors: 0, txDropped: 0 });
  });
});

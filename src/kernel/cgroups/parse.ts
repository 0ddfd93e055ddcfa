import type { IoStats, PressureFile, PressureLine } from './driver.js';

/** Flat keyed files ("key value" per line): memory.stat, cpu.stat, memory.events, cgroup.events. */
export function parseFlatKeyed(text: string | null): Map<string, number> {
  const out = new Map<string, number>();
  if (text === null) return out;
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (!key || value === undefined || !/^-?\d+$/.test(value)) continue;
    out.set(key, Number(value));
  }
  return out;
}

export function keyOrNull(map: Map<string, number>, key: string): number | null {
  return map.get(key) ?? null;
}

/** A PSI file: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0" and a "full" line (absent for cpu before 5.13). */
export function parsePressure(text: string | null): PressureFile | null {
  if (text === null) return null;
  const file: PressureFile = { some: null, full: null };
  for (const line of text.split('\n')) {
    const [kind, ...fields] = line.trim().split(/\s+/);
    if (kind !== 'some' && kind !== 'full') continue;
    const values = new Map(fields.map((f) => f.split('=') as [string, string]));
    const entry: PressureLine = {
      avg10: Number(values.get('avg10')),
      avg60: Number(values.get('avg60')),
      avg300: Number(values.get('avg300')),
      total: Number(values.get('total')),
    };
    if (Object.values(entry).some((n) => !Number.isFinite(n))) continue;
    file[kind] = entry;
  }
  return file;
}

/** v2 io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per device, summed. */
export function parseIoStat(text: string | null): IoStats | null {
  if (text === null) return null;
  const io: IoStats = { readBytes: 0, writeBytes: 0 };
  for (const line of text.split('\n')) {
    for (const field of line.trim().split(/\s+/).slice(1)) {
      const [key, value] = field.split('=');
      if (key === 'rbytes') io.readBytes += Number(value) || 0;
      else if (key === 'wbytes') io.writeBytes += Number(value) || 0;
    }
  }
  return io;
}

/** v1 blkio.*io_service_bytes*: "8:0 Read 123" per device and operation, and a "Total" line; summed per operation. */
export function parseBlkioServiceBytes(text: string | null): IoStats | null {
  if (text === null) return null;
  const io: IoStats = { readBytes: 0, writeBytes: 0 };
  for (const line of text.split('\n')) {
    const [device, op, value] = line.trim().split(/\s+/);
    if (!device || !device.includes(':') || value === undefined) continue;
    if (op === 'Read') io.readBytes += Number(value) || 0;
    else if (op === 'Write') io.writeBytes += Number(value) || 0;
  }
  return io;
}

/** cgroup.procs: one pid per line. */
export function parsePids(text: string | null): number[] {
  if (text === null) return [];
  const pids: number[] = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (/^\d+$/.test(t)) pids.push(Number(t));
  }
  return pids;
}

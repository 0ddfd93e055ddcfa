import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface LsnsEntry {
  ns: number;
  type: string;
  nprocs: number;
  pid: number;
  user: string;
  command: string;
  children?: LsnsEntry[];
}

/** lsns -J nests namespaces under their lowest pid's parent; flatten that tree. */
export function flattenLsns(entries: LsnsEntry[], out: LsnsEntry[] = []): LsnsEntry[] {
  for (const entry of entries) {
    out.push(entry);
    if (entry.children) flattenLsns(entry.children, out);
  }
  return out;
}

/** util-linux lsns's inventory, keyed "type:inode". */
export async function lsns(): Promise<Map<string, LsnsEntry>> {
  const { stdout } = await run('lsns', ['-J', '-o', 'NS,TYPE,NPROCS,PID,USER,COMMAND'], { maxBuffer: 64 << 20 });
  const entries = flattenLsns((JSON.parse(stdout) as { namespaces: LsnsEntry[] }).namespaces);
  return new Map(entries.map((entry) => [`${entry.type}:${entry.ns}`, entry]));
}

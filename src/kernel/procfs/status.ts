import { type ProcOptions, procRootOf, readProcText } from './proc-file.js';

/** real, effective, saved set and filesystem ids, in the order status prints them. */
export interface IdSet {
  real: number;
  effective: number;
  saved: number;
  filesystem: number;
}

/** The five capability sets, as the 16-hex-digit masks status prints (capsh --decode input). */
export interface CapabilitySets {
  inheritable: string;
  permitted: string;
  effective: string;
  bounding: string;
  ambient: string;
}

export interface ProcessStatus {
  name: string;
  /** The state letter (R, S, D, Z, ...). */
  state: string;
  /** The state's word, e.g. "sleeping". */
  stateName: string;
  tgid: number;
  pid: number;
  ppid: number;
  uid: IdSet;
  gid: IdSet;
  /** This pid in every pid namespace from the reader's down to the process's own. */
  nspid: number[];
  threads: number;
  /** 0 disabled, 1 strict, 2 filter; null where the kernel has no seccomp line. */
  seccomp: number | null;
  seccompFilters: number | null;
  noNewPrivs: boolean | null;
  capabilities: CapabilitySets;
}

function ids(value: string | undefined): IdSet {
  const [real, effective, saved, filesystem] = (value ?? '').split(/\s+/).map(Number);
  return {
    real: real ?? NaN,
    effective: effective ?? NaN,
    saved: saved ?? NaN,
    filesystem: filesystem ?? NaN,
  };
}

function optionalNumber(value: string | undefined): number | null {
  return value === undefined || value === '' ? null : Number(value);
}

/** status is "Key:\tvalue" lines; unknown keys are ignored so newer kernels parse too. */
export function parseProcStatus(text: string): ProcessStatus {
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const state = fields.get('State') ?? '';
  const stateWord = /\(([^)]*)\)/.exec(state);
  const noNewPrivs = optionalNumber(fields.get('NoNewPrivs'));
  return {
    name: fields.get('Name') ?? '',
    state: state.charAt(0),
    stateName: stateWord?.[1] ?? '',
    tgid: Number(fields.get('Tgid')),
    pid: Number(fields.get('Pid')),
    ppid: Number(fields.get('PPid')),
    uid: ids(fields.get('Uid')),
    gid: ids(fields.get('Gid')),
    nspid: (fields.get('NSpid') ?? fields.get('Pid') ?? '').split(/\s+/).filter(Boolean).map(Number),
    threads: Number(fields.get('Threads') ?? 1),
    seccomp: optionalNumber(fields.get('Seccomp')),
    seccompFilters: optionalNumber(fields.get('Seccomp_filters')),
    noNewPrivs: noNewPrivs === null ? null : noNewPrivs !== 0,
    capabilities: {
      inheritable: fields.get('CapInh') ?? '',
      permitted: fields.get('CapPrm') ?? '',
      effective: fields.get('CapEff') ?? '',
      bounding: fields.get('CapBnd') ?? '',
      ambient: fields.get('CapAmb') ?? '',
    },
  };
}

export function readProcessStatus(pid: number, options?: ProcOptions): ProcessStatus {
  return parseProcStatus(readProcText(procRootOf(options), pid, 'status'));
}

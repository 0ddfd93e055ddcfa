import { describe, expect, it } from 'vitest';
import type Docker from 'dockerode';
import {
  dockerLimitsOf,
  engineMessage,
  mapEngineError,
  MIN_MEMORY_BYTES,
  planLimitsUpdate,
  resolveContainer,
  type DockerLimits,
} from '../../../src/kernel/docker/containers.js';
import { DockerEngine } from '../../../src/kernel/docker/engine.js';
import { NsgateError } from '../../../src/kernel/errors.js';

const unlimited: DockerLimits = { memory: null, memorySwap: null, nanoCpus: null, cpuShares: null, pidsLimit: null, cpuQuota: null, cpuPeriod: null };
const limited = (extra: Partial<DockerLimits>): DockerLimits => ({ ...unlimited, ...extra });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof NsgateError ? err.code : `not an NsgateError: ${String(err)}`;
  }
  return undefined;
}

/** A dockerode error as docker-modem builds it. */
function engineErr(statusCode: number, message: string) {
  return Object.assign(new Error(`(HTTP code ${statusCode}) unexpected - ${message} `), { statusCode, json: { message } });
}

describe('dockerLimitsOf', () => {
  it('reads unset, 0 and -1 as null', () => {
    expect(dockerLimitsOf({ HostConfig: { Memory: 0, MemorySwap: 0, NanoCpus: 0, CpuShares: 0, PidsLimit: undefined } } as never)).toEqual(unlimited);
    expect(dockerLimitsOf({ HostConfig: { Memory: 8000000, MemorySwap: -1, PidsLimit: -1 } } as never)).toEqual(limited({ memory: 8000000 }));
    expect(dockerLimitsOf({ HostConfig: { Memory: 67108864, MemorySwap: 134217728, NanoCpus: 5e8, CpuShares: 512, PidsLimit: 64 } } as never)).toEqual(
      limited({ memory: 67108864, memorySwap: 134217728, nanoCpus: 5e8, cpuShares: 512, pidsLimit: 64 }),
    );
  });
});

describe('planLimitsUpdate', () => {
  it('sends a memory-only change of a container without a swap limit with MemorySwap -1 (the engine refuses it otherwise)', () => {
    expect(planLimitsUpdate({ memory: 8000000 }, unlimited)).toEqual({ Memory: 8000000, MemorySwap: -1 });
  });

  it('keeps an existing memory+swap limit when memory stays below it', () => {
    expect(planLimitsUpdate({ memory: 8000000 }, limited({ memory: 64 << 20, memorySwap: 128 << 20 }))).toEqual({ Memory: 8000000 });
  });

  it('refuses memory above the current memory+swap limit without a new memorySwap (as the engine does)', () => {
    expect(codeOf(() => planLimitsUpdate({ memory: 256 << 20 }, limited({ memory: 64 << 20, memorySwap: 128 << 20 })))).toBe('LIMIT_INVALID');
    expect(planLimitsUpdate({ memory: 256 << 20, memorySwap: 512 << 20 }, limited({ memory: 64 << 20, memorySwap: 128 << 20 }))).toEqual({
      Memory: 256 << 20,
      MemorySwap: 512 << 20,
    });
  });

  it('refuses memory below 6 MiB with Docker’s wording', () => {
    expect(() => planLimitsUpdate({ memory: 1 << 20 }, unlimited)).toThrow(/Minimum memory limit allowed is 6MB/);
    expect(codeOf(() => planLimitsUpdate({ memory: MIN_MEMORY_BYTES - 1 }, unlimited))).toBe('LIMIT_INVALID');
    expect(planLimitsUpdate({ memory: MIN_MEMORY_BYTES }, unlimited)).toEqual({ Memory: MIN_MEMORY_BYTES, MemorySwap: -1 });
  });

  it('memorySwap is memory+swap: below memory, 0, or without any memory limit is refused; -1 is unlimited', () => {
    expect(() => planLimitsUpdate({ memory: 16 << 20, memorySwap: 8 << 20 }, unlimited)).toThrow(/memoryswap limit should be larger than memory/);
    expect(() => planLimitsUpdate({ memorySwap: 8 << 20 }, limited({ memory: 16 << 20, memorySwap: 32 << 20 }))).toThrow(/larger than memory/);
    expect(() => planLimitsUpdate({ memorySwap: 8 << 20 }, unlimited)).toThrow(/always set the Memory limit/);
    expect(codeOf(() => planLimitsUpdate({ memorySwap: 0 }, limited({ memory: 16 << 20 })))).toBe('LIMIT_INVALID');
    expect(codeOf(() => planLimitsUpdate({ memorySwap: -2 }, limited({ memory: 16 << 20 })))).toBe('LIMIT_INVALID');
    expect(planLimitsUpdate({ memorySwap: -1 }, limited({ memory: 16 << 20 }))).toEqual({ MemorySwap: -1 });
    expect(planLimitsUpdate({ memory: 16 << 20, memorySwap: 16 << 20 }, unlimited)).toEqual({ Memory: 16 << 20, MemorySwap: 16 << 20 });
  });

  it('cpus: at least 0.01 (the engine itself accepts less and then writes no quota at all)', () => {
    expect(planLimitsUpdate({ nanoCpus: 500_000_000 }, unlimited)).toEqual({ NanoCpus: 500_000_000 });
    expect(codeOf(() => planLimitsUpdate({ nanoCpus: 1000 }, unlimited))).toBe('LIMIT_INVALID');
    expect(codeOf(() => planLimitsUpdate({ nanoCpus: 0 }, unlimited))).toBe('LIMIT_INVALID');
  });

  it('cpu shares 2..262144; pids a count or 0 / -1 for unlimited', () => {
    expect(planLimitsUpdate({ cpuShares: 512, pidsLimit: 64 }, unlimited)).toEqual({ CpuShares: 512, PidsLimit: 64 });
    expect(planLimitsUpdate({ pidsLimit: -1 }, unlimited)).toEqual({ PidsLimit: -1 });
    expect(planLimitsUpdate({ pidsLimit: 0 }, unlimited)).toEqual({ PidsLimit: 0 });
    expect(codeOf(() => planLimitsUpdate({ cpuShares: 1 }, unlimited))).toBe('LIMIT_INVALID');
    expect(codeOf(() => planLimitsUpdate({ cpuShares: 262145 }, unlimited))).toBe('LIMIT_INVALID');
    expect(codeOf(() => planLimitsUpdate({ pidsLimit: -2 }, unlimited))).toBe('LIMIT_INVALID');
  });

  it('refuses non-integers and an empty change', () => {
    expect(codeOf(() => planLimitsUpdate({ memory: 8e6 + 0.5 }, unlimited))).toBe('LIMIT_INVALID');
    expect(codeOf(() => planLimitsUpdate({ memory: '8M' as unknown as number }, unlimited))).toBe('LIMIT_INVALID');
    expect(codeOf(() => planLimitsUpdate({}, unlimited))).toBe('LIMIT_INVALID');
  });
});

describe('mapEngineError (messages as Docker 20.10 sends them, recorded on the test engine)', () => {
  const mapped = (statusCode: number, message: string) => mapEngineError(engineErr(statusCode, message), 'db') as NsgateError;

  it('404 is CONTAINER_NOT_FOUND', () => {
    expect(mapped(404, 'No such container: nonexistent')).toMatchObject({ code: 'CONTAINER_NOT_FOUND', message: 'No such container: nonexistent' });
  });

  it('4xx about a limit value is LIMIT_INVALID with the engine’s message; other 4xx ENGINE_REJECTED', () => {
    expect(mapped(400, 'Minimum memory limit allowed is 6MB')).toMatchObject({ code: 'LIMIT_INVALID', message: 'Minimum memory limit allowed is 6MB' });
    expect(mapped(400, 'Minimum memoryswap limit should be larger than memory limit, see usage').code).toBe('LIMIT_INVALID');
    expect(mapped(400, 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available').code).toBe('LIMIT_INVALID');
    expect(
      mapped(409, 'Cannot update container 71d0: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time').code,
    ).toBe('LIMIT_INVALID');
    const rejected = mapped(409, 'Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
    expect(rejected).toMatchObject({ code: 'ENGINE_REJECTED', details: { engineStatus: 409, container: 'db' } });
  });

  it('5xx: a cgroup write refused by the kernel is LIMIT_INVALID (EINVAL) or LIMIT_BELOW_USAGE (EBUSY); others ENGINE_UNAVAILABLE', () => {
    const einval =
      'Cannot update container a177: runc did not terminate successfully: exit status 1: failed to write "4000000": write /sys/fs/cgroup/memory/docker/a177/memory.memsw.limit_in_bytes: invalid argument\n: unknown';
    expect(mapped(500, einval).code).toBe('LIMIT_INVALID');
    expect(mapped(500, 'failed to write "8000000": write /sys/fs/cgroup/memory/x/memory.limit_in_bytes: device or resource busy').code).toBe('LIMIT_BELOW_USAGE');
    // runc 1.1 catches EBUSY and says it in its own words (Docker 20.10, this host)
    const runcBusy =
      'Cannot update container 6478: runc did not terminate successfully: exit status 1: unable to set memory limit to 33554432 (current usage: 67600384, peak usage: 68780032)\n: unknown';
    expect(mapped(500, runcBusy).code).toBe('LIMIT_BELOW_USAGE');
    expect(mapped(500, 'containerd: connection refused').code).toBe('ENGINE_UNAVAILABLE');
  });

  it('passes NsgateErrors and errors without a status through', () => {
    const ours = new NsgateError('ENGINE_UNAVAILABLE', 'down');
    expect(mapEngineError(ours)).toBe(ours);
    const plain = new Error('boom');
    expect(mapEngineError(plain)).toBe(plain);
  });

  it('engineMessage reads the JSON body, a text body, or the error text', () => {
    expect(engineMessage(engineErr(400, 'x y'))).toBe('x y');
    expect(engineMessage({ statusCode: 500, json: Buffer.from('plain text\n'), message: '' })).toBe('plain text');
    expect(engineMessage(new Error('(HTTP code 502) bad gateway - upstream died '))).toBe('upstream died');
  });
});

describe('resolveContainer (on a listed set)', () => {
  const ids = {
    db: 'abcd1234' + '0'.repeat(56),
    web: 'abcd9999' + '1'.repeat(56),
    cache: 'f00d' + '2'.repeat(60),
    named: 'beef' + '3'.repeat(60),
  };
  const engine = new DockerEngine('unix:///nonexistent/docker.sock', 100);
  const list: Docker.ContainerInfo[] = [
    { Id: ids.db, Names: ['/db', '/web/db-alias'] },
    { Id: ids.web, Names: ['/web'] },
    { Id: ids.cache, Names: ['/cache'] },
    { Id: ids.named, Names: ['/abcd'] }, // a name that looks like a prefix of db and web
  ].map((c) => ({ ...c, Image: 'img', ImageID: 'sha256:1', State: 'running', Status: 'Up', Labels: {}, Created: 0 }) as unknown as Docker.ContainerInfo);
  (engine.client as unknown as { listContainers: () => Promise<Docker.ContainerInfo[]> }).listContainers = async () => list;

  const err = async (idOrName: string) => {
    try {
      await resolveContainer(engine, idOrName);
    } catch (e) {
      return e as NsgateError;
    }
    throw new Error(`${idOrName} resolved`);
  };

  it('finds by full id, by name with or without "/", and by a unique prefix of 4+ hex digits', async () => {
    expect((await resolveContainer(engine, ids.cache)).name).toBe('cache');
    expect((await resolveContainer(engine, 'db')).id).toBe(ids.db);
    expect((await resolveContainer(engine, '/db')).id).toBe(ids.db);
    expect((await resolveContainer(engine, 'f00d')).id).toBe(ids.cache);
    expect((await resolveContainer(engine, 'ABCD1234')).id).toBe(ids.db);
    expect((await resolveContainer(engine, 'db')).names).toEqual(['db', 'web/db-alias']);
  });

  it('a name wins over an id prefix, as in Docker', async () => {
    expect((await resolveContainer(engine, 'abcd')).id).toBe(ids.named);
  });

  it('an ambiguous prefix is CONTAINER_AMBIGUOUS with the candidates', async () => {
    list.push({ ...list[0]!, Id: 'abcd1234' + 'f'.repeat(56), Names: ['/db2'] });
    try {
      const ambiguous = await err('abcd12');
      expect(ambiguous.code).toBe('CONTAINER_AMBIGUOUS');
      expect(ambiguous.details?.candidates).toEqual([
        { id: ids.db, name: 'db' },
        { id: 'abcd1234' + 'f'.repeat(56), name: 'db2' },
      ]);
      expect((await resolveContainer(engine, 'abcd9')).id).toBe(ids.web);
    } finally {
      list.pop();
    }
  });

  it('short prefixes, link aliases and unknown names are CONTAINER_NOT_FOUND', async () => {
    expect(await err('f00')).toMatchObject({ code: 'CONTAINER_NOT_FOUND', details: { hint: expect.stringMatching(/at least 4/) } });
    expect((await err('db-alias')).code).toBe('CONTAINER_NOT_FOUND');
    expect((await err('nope')).code).toBe('CONTAINER_NOT_FOUND');
    expect((await err('')).code).toBe('CONTAINER_NOT_FOUND');
  });
});

// GraphQL's cost limit on a host with 100 real containers: the natural nested query (every
// container, its processes and their namespaces, its cgroup's limits) works without `limit:`,
// because a page of containers is priced at the containers there are, not at the default page
// of 500; a query whose nested lists turn out far longer than guessed is stopped by the count of
// fields really resolved; both refusals say how to page.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerIndex } from '../../src/containers/container-index.js';
import { MAX_QUERY_COMPLEXITY, MAX_RESOLVED_FIELDS } from '../../src/graphql/graphql-limits.plugin.js';
import { startTestApp, type TestApp, waitFor } from './support/app.js';
import { docker, removeRunContainers, runContainer, TEST_IMAGE, type TestContainer } from './support/docker.js';

const CONTAINERS = 100;

const NATURAL = `{
  containers {
    items {
      id name state
      processes { pid comm namespaceList { type inode } }
      cgroup { path limits { memory { max } cpu { quotaUs periodUs } pids { max } } }
    }
    nextCursor
  }
}`;

interface NaturalAnswer {
  containers: {
    items: { id: string; name: string; processes: { pid: number; namespaceList: { type: string; inode: number }[] }[]; cgroup: { path: string } | null }[];
    nextCursor: string | null;
  };
}

describe('GraphQL query cost with 100 containers', () => {
  let t: TestApp;
  const made: TestContainer[] = [];

  beforeAll(async () => {
    let next = 0;
    const worker = async () => {
      while (next < CONTAINERS) {
        const i = next++;
        made.push(await runContainer(`cost-${i}`, [TEST_IMAGE, 'sleep', '600']));
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    t = await startTestApp();
    const index = t.app.get(ContainerIndex);
    await index.model.ready();
    await waitFor(async () => made.every((c) => index.model.entries().some((e) => e.id === c.id && e.pid !== null)), 30_000);
  }, 300_000);
  afterAll(async () => {
    await t?.close();
    await removeRunContainers();
  }, 120_000);

  it('answers the nested query without limit: for every container, with processes, namespaces and limits', async () => {
    const res = await t.graphql(NATURAL, t.tokens.viewer);
    expect(res.body.errors).toBeUndefined();
    expect(res.status).toBe(200);
    const items = (res.body.data as unknown as NaturalAnswer).containers.items;
    for (const c of made) {
      const item = items.find((i) => i.id === c.id);
      expect(item, c.name).toBeDefined();
      // each holds `sleep 600` as its pid 1, in the container's own pid namespace
      expect(item!.processes.map((p) => p.pid)).toEqual([c.pid]);
      expect(item!.processes[0]!.namespaceList.map((n) => n.type)).toContain('pid');
      expect(item!.cgroup?.path).toBe(`/docker/${c.id}`);
    }
  });

  it('still refuses the same query asking for 5000 per page of a list the host cannot price, and says how to page', async () => {
    const costly = await t.graphql('{ processes(limit: 5000) { items { pid children { pid children { pid comm } } } } }', t.tokens.viewer);
    expect(costly.status).toBe(400);
    const error = costly.body.errors?.[0];
    expect(error?.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect((error?.extensions?.details as { limit: number }).limit).toBe(MAX_QUERY_COMPLEXITY);
    expect(error?.message).toMatch(/limit:.*cursor:/);
  });

  it('stops a query whose nested lists are far longer than guessed, by the fields it really resolved', async () => {
    // one container with 300 processes: priced as 100 per container, it really resolves
    // 300 processes × their namespaces × 300 processes each
    const crowded = await runContainer('cost-crowded', [TEST_IMAGE, 'sh', '-c', 'for i in $(seq 300); do sleep 600 & done; wait']);
    made.push(crowded);
    await waitFor(async () => (await docker(['top', crowded.id])).split('\n').length > 300, 30_000);
    const res = await t.graphql(`{ container(id: "${crowded.id}") { processes { pid namespaceList { type processes { pid } } } } }`, t.tokens.viewer);
    expect(res.status).toBe(400);
    expect(res.body.data).toBeUndefined();
    expect(res.body.errors).toHaveLength(1);
    const error = res.body.errors![0]!;
    expect(error.extensions?.code).toBe('QUERY_TOO_COMPLEX');
    expect((error.extensions?.details as { resolvedFields: number }).resolvedFields).toBeGreaterThan(MAX_RESOLVED_FIELDS);
    expect(error.message).toMatch(/limit:.*cursor:/);
    // the service goes on answering
    expect((await t.graphql(`{ container(id: "${crowded.id}") { name } }`, t.tokens.viewer)).body.errors).toBeUndefined();
  }, 120_000);
});

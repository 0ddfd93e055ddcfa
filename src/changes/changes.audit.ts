import type { HandlerInput } from '../common/request-context.js';
import { NsgateError } from '../kernel/errors.js';
import type { ChangesResult } from './changes.service.js';

interface ItemLike {
  cgroup?: unknown;
  container?: unknown;
}

/** A batch's audit target: its items' targets ("changes:cgroup:/nsgate/a,container:db"), cut at 1000 characters. */
export function batchAuditTarget(input: HandlerInput): string {
  const body = (input.args.changes !== undefined ? input.args : input.body) as { changes?: ItemLike[] } | undefined;
  const items = Array.isArray(body?.changes) ? body.changes : [];
  const text = items.map((i) => (i.container !== undefined ? `container:${String(i.container)}` : `cgroup:${String(i.cgroup)}`)).join(',');
  return `changes:${text.length > 1000 ? `${text.slice(0, 1000)}…` : text}`;
}

/** What a batch's completed line keeps as `after`: each item's target, before and after (events publish one limits.changed per item from it). */
export function batchOutcome(response: unknown): unknown {
  return (response as ChangesResult).items.map((i) => {
    const a = (i.cgroup ?? i.container) as { before: unknown; after: unknown; version: string } | undefined;
    return { index: i.index, target: i.target, before: a?.before ?? null, after: a?.after ?? null, version: a?.version ?? null };
  });
}

/** Exactly one of cgroup and container per item. */
export function checkItemTargets(items: ItemLike[]): void {
  items.forEach((item, index) => {
    if ((item.cgroup === undefined || item.cgroup === null) === (item.container === undefined || item.container === null)) {
      throw new NsgateError('VALIDATION_FAILED', `change ${index}: give exactly one of cgroup and container`, { index });
    }
  });
}

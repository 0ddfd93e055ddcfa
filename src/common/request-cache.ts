const CACHE = Symbol('nsgate.requestCache');

/**
 * One value per request and key: a GraphQL query touching 500 processes' namespaces shares
 * one namespace snapshot instead of taking 500.
 */
export function perRequest<T>(req: object | undefined, key: string, factory: () => T): T {
  if (!req) return factory();
  const holder = req as { [CACHE]?: Map<string, unknown> };
  const cache = (holder[CACHE] ??= new Map());
  if (!cache.has(key)) cache.set(key, factory());
  return cache.get(key) as T;
}

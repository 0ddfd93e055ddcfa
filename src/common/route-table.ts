/**
 * The routes a server serves, by method, so an unmatched request can be told apart: a path no
 * route has (404) from a path served under other methods (405 with Allow). Filled from Fastify's
 * onRoute hook; patterns are Fastify's (`:param` one segment, `*` the rest).
 */
export class RouteTable {
  private readonly routes: { method: string; pattern: RegExp }[] = [];

  add(method: string, url: string): void {
    const source = url
      .split(/(:\w+|\*)/)
      .map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
      .join('');
    this.routes.push({ method: method.toUpperCase(), pattern: new RegExp(`^${source}/?$`) });
  }

  /** The methods some route serves at this path (the query string is ignored), sorted. */
  methodsFor(url: string): string[] {
    const path = url.split('?')[0]!;
    return [...new Set(this.routes.filter((r) => r.pattern.test(path)).map((r) => r.method))].sort();
  }
}

const tables = new WeakMap<object, RouteTable>();

/** The table of one server instance (made on first use). */
export function routeTableOf(server: object): RouteTable {
  let table = tables.get(server);
  if (!table) tables.set(server, (table = new RouteTable()));
  return table;
}

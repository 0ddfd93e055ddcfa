import type { HandlerInput } from '../common/request-context.js';

const PREFIX = '/v1/cgroups/';

/**
 * A cgroup path is many URL segments (`/v1/cgroups/nsgate/batch/-/limits`), but Fastify matches
 * a wildcard only at a route's end, and an OpenAPI `{path}` parameter is one segment (generated
 * clients send `nsgate%2Fbatch`). So, before routing, the path's own slashes are encoded into one
 * segment: both spellings reach the same route, `/v1/cgroups/:path/-/limits`, whose `path`
 * parameter Fastify decodes. The last "/-/" followed by one segment separates an action; a cgroup
 * path that itself holds "/-/x" is named by encoding its slashes (`a%2F-%2Fx`).
 */
export function rewriteCgroupUrl(url: string): string {
  if (!url.startsWith(PREFIX)) return url;
  const q = url.indexOf('?');
  const query = q >= 0 ? url.slice(q) : '';
  let rest = (q >= 0 ? url.slice(0, q) : url).slice(PREFIX.length);
  let action = '';
  const at = rest.lastIndexOf('/-/');
  if (at >= 0 && /^[^/]+$/.test(rest.slice(at + 3))) {
    action = rest.slice(at);
    rest = rest.slice(0, at);
  }
  // "a/" is "a"; nothing at all (GET /v1/cgroups/) is the root
  rest = rest.replace(/\/+$/, '') || '/';
  return `${PREFIX}${rest.replaceAll('/', '%2F')}${action}${query}`;
}

/** The cgroup path of a `{path}` parameter: "nsgate/a" and "/nsgate/a" → "/nsgate/a". */
export function cgroupPathOf(param: unknown): string {
  const text = typeof param === 'string' ? param : '';
  return (text.startsWith('/') ? text : `/${text}`).replace(/\/+$/, '') || '/';
}

export function auditTarget(input: HandlerInput): string {
  const path = input.args.path !== undefined ? String(input.args.path) : cgroupPathOf(input.params.path);
  return `cgroup:${path}`;
}

import type { ApolloServerPlugin, GraphQLRequestContextDidResolveOperation } from '@apollo/server';
import { GraphQLError, type GraphQLSchema, type SelectionSetNode, Kind, type DocumentNode } from 'graphql';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';
import type { NsgateRequest } from '../common/request-context.js';
import type { CostContext } from './query-cost.js';

export const MAX_QUERY_DEPTH = 10;
/** processes(limit: 5000) with 50 fields each is 250,000; nesting list edges goes past it. */
export const MAX_QUERY_COMPLEXITY = 250_000;
/** The estimate guesses nested lists' lengths; these bound what a query really does. */
export const MAX_RESOLVED_FIELDS = 2 * MAX_QUERY_COMPLEXITY;
export const MAX_QUERY_MS = 30_000;

const HOW_TO_PAGE = 'ask for fewer items with limit: (e.g. containers(limit: 20)) and fetch the next page with cursor: set to the nextCursor of the last one';

interface GqlContext {
  req: NsgateRequest;
}

/**
 * Refuses, before anything runs, a query that costs too much (graphql-query-complexity;
 * list fields declare their cost through `complexity` in their field options) and
 * introspection from anyone but an admin. Both are 400s with our error codes.
 */
export function limitsPlugin(getSchema: () => GraphQLSchema, sizes: () => CostContext['sizes'] = () => ({})): ApolloServerPlugin<GqlContext> {
  return {
    async requestDidStart() {
      let resolved = 0;
      let started = 0;
      let spent: 'fields' | 'time' | null = null;
      return {
        // Counting is cheap (one add per field, the clock every 256); once a bound is passed every
        // further field fails at once and willSendResponse answers one 400, not a partial result.
        async executionDidStart() {
          started = performance.now();
          return {
            willResolveField() {
              if (spent === null) {
                if (++resolved > MAX_RESOLVED_FIELDS) spent = 'fields';
                else if ((resolved & 255) === 0 && performance.now() - started > MAX_QUERY_MS) spent = 'time';
              }
              if (spent !== null) throw new GraphQLError('query budget spent');
            },
          };
        },
        // graphql-js reports a variable that does not fit its type ("Variable \"$l\" got invalid
        // value ...") from execute(), without a code: Apollo would answer it as an internal error
        // (500). It is the caller's mistake, like any other validation error: 400.
        async didEncounterErrors(ctx) {
          for (const e of ctx.errors) {
            const code = e.extensions?.code;
            if (e.path === undefined && /^Variable "\$/.test(e.message) && (code === undefined || code === 'INTERNAL_SERVER_ERROR')) {
              Object.assign(e.extensions, { code: 'BAD_USER_INPUT', http: { status: 400 } });
            }
          }
        },
        // graphql-js hints at names ("Did you mean \"kernel\"?"): that is the schema, which only
        // admins may introspect. Everyone else gets the error without the hint.
        async willSendResponse(ctx) {
          if (spent !== null && ctx.response.body.kind === 'single') {
            const what = spent === 'fields' ? `resolved more than ${MAX_RESOLVED_FIELDS} fields` : `ran for more than ${MAX_QUERY_MS / 1000} s`;
            const details = { resolvedFields: resolved, elapsedMs: Math.round(performance.now() - started), maxResolvedFields: MAX_RESOLVED_FIELDS, maxMs: MAX_QUERY_MS };
            ctx.response.http.status = 400;
            ctx.response.body.singleResult = {
              errors: [new GraphQLError(`the query ${what}; ${HOW_TO_PAGE}`, { extensions: { code: 'QUERY_TOO_COMPLEX', status: 400, details } }).toJSON()],
            };
            return;
          }
          if (ctx.contextValue?.req?.caller?.role === 'admin' || ctx.response.body.kind !== 'single') return;
          const result = ctx.response.body.singleResult;
          if (result.errors) result.errors = result.errors.map((e) => (DID_YOU_MEAN.test(e.message) ? { ...e, message: withoutSuggestions(e.message) } : e));
        },
        async didResolveOperation(ctx: GraphQLRequestContextDidResolveOperation<GqlContext>) {
          if (usesIntrospection(ctx.document) && ctx.contextValue.req?.caller?.role !== 'admin') {
            throw new GraphQLError('introspection is for admins only; the schema is in schema.graphql', {
              extensions: { code: 'FORBIDDEN', http: { status: 403 } },
            });
          }
          const complexity = getComplexity({
            schema: getSchema(),
            operationName: ctx.request.operationName ?? undefined,
            query: ctx.document,
            variables: ctx.request.variables ?? {},
            context: { sizes: sizes() } satisfies CostContext,
            estimators: [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })],
          });
          if (complexity > MAX_QUERY_COMPLEXITY) {
            throw new GraphQLError(`query cost ${complexity} is above the limit of ${MAX_QUERY_COMPLEXITY}; ${HOW_TO_PAGE}`, {
              extensions: { code: 'QUERY_TOO_COMPLEX', http: { status: 400 }, details: { complexity, limit: MAX_QUERY_COMPLEXITY } },
            });
          }
        },
      };
    },
  };
}

const DID_YOU_MEAN = /\s*Did you mean [^?]*\?/;

export function withoutSuggestions(message: string): string {
  return message.replace(new RegExp(DID_YOU_MEAN.source, 'g'), '');
}

function usesIntrospection(document: DocumentNode): boolean {
  const visit = (set: SelectionSetNode | undefined): boolean =>
    !!set?.selections.some((s) => {
      if (s.kind === Kind.FIELD) return s.name.value === '__schema' || s.name.value === '__type' || visit(s.selectionSet);
      if (s.kind === Kind.INLINE_FRAGMENT) return visit(s.selectionSet);
      return false;
    });
  return document.definitions.some((d) => {
    if (d.kind === Kind.OPERATION_DEFINITION || d.kind === Kind.FRAGMENT_DEFINITION) return visit(d.selectionSet);
    return false;
  });
}

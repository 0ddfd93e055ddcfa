import type { ApolloServerPlugin, GraphQLRequestContextDidResolveOperation } from '@apollo/server';
import { GraphQLError, type GraphQLSchema, type SelectionSetNode, Kind, type DocumentNode } from 'graphql';
import { fieldExtensionsEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';
import type { NsgateRequest } from '../common/request-context.js';

export const MAX_QUERY_DEPTH = 10;
/** processes(limit: 5000) with 50 fields each is 250,000; nesting list edges goes past it. */
export const MAX_QUERY_COMPLEXITY = 250_000;

interface GqlContext {
  req: NsgateRequest;
}

/**
 * Refuses, before anything runs, a query that costs too much (graphql-query-complexity;
 * list fields declare their cost through `complexity` in their field options) and
 * introspection from anyone but an admin. Both are 400s with our error codes.
 */
export function limitsPlugin(getSchema: () => GraphQLSchema): ApolloServerPlugin<GqlContext> {
  return {
    async requestDidStart() {
      return {
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
            estimators: [fieldExtensionsEstimator(), simpleEstimator({ defaultComplexity: 1 })],
          });
          if (complexity > MAX_QUERY_COMPLEXITY) {
            throw new GraphQLError(`query cost ${complexity} is above the limit of ${MAX_QUERY_COMPLEXITY}`, {
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

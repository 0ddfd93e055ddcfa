import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { ApolloDriverConfig } from '@nestjs/apollo';
import { Injectable } from '@nestjs/common';
import type { GqlOptionsFactory } from '@nestjs/graphql';
import { GraphQLSchemaHost } from '@nestjs/graphql';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { AuthService } from '../auth/auth.service.js';
import type { Caller } from '../auth/roles.js';
import { statusOf } from '../common/errors.js';
import type { NsgateRequest } from '../common/request-context.js';
import { type ErrorCode, ErrorCodes, NsgateError } from '../kernel/errors.js';
import { depthLimitRule } from './depth-limit.rule.js';
import { limitsPlugin, MAX_QUERY_DEPTH } from './graphql-limits.plugin.js';
import { QueryCostHints } from './query-cost.js';

interface WsExtra {
  request: IncomingMessage;
  caller?: Caller;
  requestId?: string;
}

/** Apollo's errors of the client's making keep their code; anything else unknown is INTERNAL. */
const CLIENT_CODES = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_FOUND', 'OPERATION_RESOLUTION_FAILURE']);

@Injectable()
export class GraphqlOptions implements GqlOptionsFactory<ApolloDriverConfig> {
  constructor(
    private readonly auth: AuthService,
    private readonly schemaHost: GraphQLSchemaHost,
    private readonly costHints: QueryCostHints,
  ) {}

  createGqlOptions(): ApolloDriverConfig {
    return {
      path: '/graphql',
      autoSchemaFile: true,
      sortSchema: true,
      // skipCheck: no introspection query run against the new schema at every start-up (a few
      // hundred ms); the schema is validated by the schema test and by `npm run schema` instead
      buildSchemaOptions: { numberScalarMode: 'integer', skipCheck: true },
      playground: false,
      introspection: true,
      csrfPrevention: true,
      includeStacktraceInErrorResponses: false,
      fieldResolverEnhancers: ['guards', 'filters'],
      validationRules: [depthLimitRule(MAX_QUERY_DEPTH)],
      plugins: [ApolloServerPluginLandingPageDisabled(), limitsPlugin(() => this.schemaHost.schema, () => this.costHints.sizes())],
      context: (request: NsgateRequest & { raw?: unknown }, reply: unknown) => this.httpContext(request, reply),
      subscriptions: {
        'graphql-ws': {
          path: '/graphql',
          onConnect: (ctx: { connectionParams?: Record<string, unknown>; extra: unknown }) => this.wsConnect(ctx.connectionParams, ctx.extra as WsExtra),
          context: (ctx: { extra: unknown }) => this.wsContext(ctx.extra as WsExtra),
        } as never,
      },
      formatError: (formatted: GraphQLFormattedError) => formatError(formatted),
    };
  }

  /** Every GraphQL request is authenticated up front: no token is a 401 for the whole request. */
  private httpContext(req: NsgateRequest, reply: unknown) {
    if (!req.caller) {
      try {
        req.caller = this.auth.authenticate(req.headers.authorization);
      } catch (err) {
        const e = err as NsgateError;
        throw new GraphQLError(e.message, { extensions: { code: e.code, http: { status: 401 } } });
      }
    }
    return { req, reply };
  }

  private wsConnect(params: Record<string, unknown> | undefined, extra: WsExtra): boolean {
    const header = typeof params?.authorization === 'string' ? params.authorization : typeof params?.Authorization === 'string' ? params.Authorization : extra.request.headers.authorization;
    try {
      extra.caller = this.auth.authenticate(header);
      extra.requestId = randomUUID();
      return true;
    } catch {
      return false;
    }
  }

  private wsContext(extra: WsExtra) {
    const req: NsgateRequest = { id: extra.requestId, headers: {}, caller: extra.caller };
    return { req };
  }
}

function formatError(formatted: GraphQLFormattedError): GraphQLFormattedError {
  const code = String(formatted.extensions?.code ?? 'INTERNAL_SERVER_ERROR');
  if ((ErrorCodes as readonly string[]).includes(code)) {
    const { http: _http, stacktrace: _stack, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions: { ...extensions, code, status: extensions.status ?? statusOf(code as ErrorCode) } };
  }
  if (CLIENT_CODES.has(code)) return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions: { code: 'VALIDATION_FAILED', status: 400, graphqlCode: code } };
  return { message: 'internal error; see the service log', path: formatted.path, extensions: { code: 'INTERNAL', status: 500 } };
}

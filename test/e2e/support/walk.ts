import { ModulesContainer } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import {
  getNamedType,
  getNullableType,
  type GraphQLArgument,
  GraphQLEnumType,
  GraphQLInputObjectType,
  type GraphQLInputType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLScalarType,
  type GraphQLSchema,
  isInterfaceType,
  isUnionType,
} from 'graphql';
import { AUDIT_KEY } from '../../../src/audit/audit.decorator.js';
import { ACTION_ROLES_KEY, ROLE_KEY } from '../../../src/auth/auth.decorator.js';

export interface DeclaredHandler {
  kind: 'rest' | 'Query' | 'Mutation' | 'Subscription';
  /** REST: "GET /v1/x/:id"; GraphQL: the field name */
  name: string;
  role: string | undefined;
  /** Actions of the handler that need a higher role than `role` (e.g. cgroup.kill: admin). */
  byAction?: Record<string, string>;
  audited: boolean;
}

const RESOLVER_TYPE = 'graphql:resolver_type';
const RESOLVER_NAME = 'graphql:resolver_name';
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'ALL', 'OPTIONS', 'HEAD', 'SEARCH'];

function joinPath(...parts: (string | undefined)[]): string {
  const joined = `/${parts.filter((p) => p && p !== '/').map((p) => p!.replace(/^\/|\/$/g, '')).join('/')}`;
  return joined.replace(/\{\*(\w+)\}|\*(\w+)/g, '*');
}

/** Every controller route and resolver root field, with the role and audit its handler declares. */
export function declaredHandlers(app: NestFastifyApplication): DeclaredHandler[] {
  const out: DeclaredHandler[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of [...module.controllers.values(), ...module.providers.values()]) {
      const type = wrapper.metatype as (new (...a: unknown[]) => unknown) | undefined;
      if (!type || typeof type !== 'function' || !type.prototype) continue;
      const classRole = Reflect.getMetadata(ROLE_KEY, type) as string | undefined;
      const classPath = Reflect.getMetadata('path', type) as string | undefined;
      const isController = module.controllers.has(wrapper.token);
      for (const key of Object.getOwnPropertyNames(type.prototype)) {
        if (key === 'constructor') continue;
        const method = Object.getOwnPropertyDescriptor(type.prototype, key)?.value as unknown;
        if (typeof method !== 'function') continue;
        const role = (Reflect.getMetadata(ROLE_KEY, method) as string | undefined) ?? classRole;
        const byAction = Reflect.getMetadata(ACTION_ROLES_KEY, method) as Record<string, string> | undefined;
        const audited = Reflect.getMetadata(AUDIT_KEY, method) !== undefined;
        if (isController && Reflect.hasMetadata('method', method)) {
          const verb = METHODS[Reflect.getMetadata('method', method) as number]!;
          out.push({ kind: 'rest', name: `${verb} ${joinPath(classPath, Reflect.getMetadata('path', method) as string)}`, role, byAction, audited });
        }
        const gqlType = Reflect.getMetadata(RESOLVER_TYPE, method) as string | undefined;
        if (gqlType === 'Query' || gqlType === 'Mutation' || gqlType === 'Subscription') {
          out.push({ kind: gqlType, name: (Reflect.getMetadata(RESOLVER_NAME, method) as string | undefined) ?? key, role, byAction, audited });
        }
      }
    }
  }
  return out.sort((a, b) => `${a.kind} ${a.name}`.localeCompare(`${b.kind} ${b.name}`));
}

/** A concrete URL for a route pattern: params get harmless sample values. */
export function sampleUrl(pattern: string): string {
  return pattern
    .replace(/:(\w+)/g, (_, name: string) => (name === 'pid' ? '1' : name === 'type' ? 'net' : name === 'inode' ? '4026531840' : 'walker'))
    .replace(/\*$/, 'nsgate/walker');
}

function literalFor(type: GraphQLInputType, depth = 0): string {
  const inner = getNullableType(type);
  if (inner instanceof GraphQLList) return `[${literalFor(inner.ofType, depth + 1)}]`;
  if (inner instanceof GraphQLEnumType) return inner.getValues()[0]!.name;
  if (inner instanceof GraphQLInputObjectType) {
    const fields = Object.values(inner.getFields()).filter((f) => f.type instanceof GraphQLNonNull);
    return `{${fields.map((f) => `${f.name}: ${literalFor(f.type, depth + 1)}`).join(', ')}}`;
  }
  if (inner instanceof GraphQLScalarType) {
    switch (inner.name) {
      case 'Int':
      case 'Int64':
      case 'Float':
        return '1';
      case 'Boolean':
        return 'false';
      case 'JSON':
        return '{}';
      default:
        return '"walker"';
    }
  }
  return 'null';
}

/** A minimal operation that calls one root field with sample arguments. */
export function sampleOperation(schema: GraphQLSchema, kind: 'Query' | 'Mutation' | 'Subscription', field: string): string {
  const root = kind === 'Query' ? schema.getQueryType() : kind === 'Mutation' ? schema.getMutationType() : schema.getSubscriptionType();
  const def = root!.getFields()[field]!;
  const args = def.args.filter((a: GraphQLArgument) => a.type instanceof GraphQLNonNull);
  const argText = args.length ? `(${args.map((a) => `${a.name}: ${literalFor(a.type)}`).join(', ')})` : '';
  const named = getNamedType(def.type);
  const selection = named instanceof GraphQLObjectType || isInterfaceType(named) || isUnionType(named) ? ' { __typename }' : '';
  return `${kind === 'Query' ? 'query' : kind === 'Mutation' ? 'mutation' : 'subscription'} { ${field}${argText}${selection} }`;
}

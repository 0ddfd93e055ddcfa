import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

const describe = (value: unknown) => `Int64 cannot represent ${JSON.stringify(value)}`;

function toInt64(value: unknown): number {
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw new GraphQLError(describe(value));
  return n;
}

/**
 * Bytes, inodes, nanoseconds: GraphQL's Int is 32-bit and too small. Serialized as a JSON
 * number (every value nsgate reports is below 2^53; "unlimited" is null, never 2^63-1);
 * accepted as a number or a decimal string.
 */
export const Int64Scalar = new GraphQLScalarType({
  name: 'Int64',
  description: 'A 64-bit integer (bytes, inodes, nanoseconds), as a JSON number below 2^53',
  serialize: (value) => toInt64(typeof value === 'bigint' ? Number(value) : value),
  parseValue: toInt64,
  parseLiteral(ast) {
    if (ast.kind === Kind.INT || ast.kind === Kind.STRING) return toInt64(ast.value);
    throw new GraphQLError(describe(ast.kind));
  },
});

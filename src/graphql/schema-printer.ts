import { type GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';

/** The SDL committed as schema.graphql: sorted, so a diff shows only real changes. */
export function printSortedSchema(schema: GraphQLSchema): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}

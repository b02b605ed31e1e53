import {
  GraphQLError,
  type GraphQLFormattedError,
  type GraphQLSchema,
  lexicographicSortSchema,
  printSchema,
} from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { DateTimeResolver } from 'graphql-scalars';
import { buildSchema, type AuthChecker, type BuildSchemaOptions } from 'type-graphql';
import { AppError, ERROR_CODES } from './errors';
import { ErrorExtensions } from './error.type';
import { databaseUnavailable } from './db';

export interface SchemaParts<Context extends object> {
  resolvers: BuildSchemaOptions['resolvers'];
  authChecker: AuthChecker<Context>;
  /** type-graphql has no option for the root types' descriptions; every other description is on a decorator. */
  rootDescriptions: { Query: string; Mutation: string };
}

/** The executable schema from the given resolvers; which resolvers is the composition root's choice (src/server/). */
export async function buildGraphQLSchema<Context extends object>(parts: SchemaParts<Context>): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers: parts.resolvers,
    authChecker: parts.authChecker,
    // Referenced by no field (errors come beside data), so listed: the schema names every error code a client can get.
    orphanedTypes: [ErrorExtensions],
    // The contract names the scalar DateTime (type-graphql's default would be DateTimeISO).
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    validate: false,
  });
  schema.getQueryType()!.description = parts.rootDescriptions.Query;
  schema.getMutationType()!.description = parts.rootDescriptions.Mutation;
  return schema;
}

/** The committed schema.graphql is exactly this text; a test compares them. */
export function renderSchema(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(schema)) + '\n';
}

/** GraphQL's own errors (parse, validation, variable coercion), as opposed to errors thrown while resolving. */
export function isGraphQLLevelError(e: unknown): e is GraphQLError {
  return e instanceof GraphQLError && (!e.originalError || e.originalError instanceof GraphQLError);
}

/**
 * The one place errors become client answers. AppErrors keep their code and safe message; GraphQL's own
 * errors pass through (a validation rule's own code, e.g. QUERY_TOO_COMPLEX, is kept over Apollo's generic one);
 * anything else is masked (and logged by the operation log plugin).
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const { path, locations } = formatted;
  // ORM calls throw the driver's exceptions; an unreachable or timed-out database is the client's to retry.
  const appError = original instanceof AppError ? original : databaseUnavailable(original);
  if (appError) {
    return { message: appError.message, path, locations, extensions: { ...appError.extensions, code: appError.code } };
  }
  if (isGraphQLLevelError(original)) {
    const { stacktrace: _, ...extensions } = formatted.extensions ?? {};
    const ruleCode =
      original.originalError instanceof GraphQLError ? original.originalError.extensions?.code : undefined;
    return { ...formatted, extensions: ruleCode ? { ...extensions, code: ruleCode } : extensions };
  }
  return { message: ERROR_CODES.INTERNAL_SERVER_ERROR, path, locations, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
}

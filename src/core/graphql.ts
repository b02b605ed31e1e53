import { writeFile } from 'node:fs/promises';
import { GraphQLError, type GraphQLFormattedError, type GraphQLSchema, lexicographicSortSchema, printSchema } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { DateTimeResolver } from 'graphql-scalars';
import { buildSchema } from 'type-graphql';
import { AuthResolver } from '../auth/auth.resolver';
import { authChecker } from '../auth/auth-checker';
import { ProfileResolver } from '../profile/profile.resolver';
import { PaymentResolver } from '../payment/payment.resolver';
import { AppError, ERROR_CODES } from './errors';
import { databaseUnavailable } from './db';

export const resolvers = [AuthResolver, ProfileResolver, PaymentResolver] as const;

const RETRY = 'Any field may answer SERVICE_UNAVAILABLE when the database or session store is away: retry later and keep the token.';
const ROOT_DESCRIPTIONS = {
  Query: `Reads of the caller's own data. Every field needs \`Authorization: Bearer <token>\` (else UNAUTHENTICATED). ${RETRY}`,
  Mutation: `Login, profile and payment. Every field but login needs \`Authorization: Bearer <token>\` (else UNAUTHENTICATED). ${RETRY}`,
};

export async function buildAppSchema(): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers,
    authChecker,
    // The contract names the scalar DateTime (type-graphql's default would be DateTimeISO).
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    validate: false,
  });
  // type-graphql has no option for the root types' descriptions; every other description is on a decorator.
  schema.getQueryType()!.description = ROOT_DESCRIPTIONS.Query;
  schema.getMutationType()!.description = ROOT_DESCRIPTIONS.Mutation;
  return schema;
}

/** The committed schema.graphql is exactly this text; a test compares them. */
export function renderSchema(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(schema)) + '\n';
}

export async function emitSchema(path: string): Promise<void> {
  await writeFile(path, renderSchema(await buildAppSchema()));
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
    const ruleCode = original.originalError instanceof GraphQLError ? original.originalError.extensions?.code : undefined;
    return { ...formatted, extensions: ruleCode ? { ...extensions, code: ruleCode } : extensions };
  }
  return { message: ERROR_CODES.INTERNAL_SERVER_ERROR, path, locations, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
}

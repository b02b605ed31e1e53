import { writeFile } from 'node:fs/promises';
import type { GraphQLSchema } from 'graphql';
import { buildGraphQLSchema, renderSchema } from '../core/graphql';
import { AuthResolver } from '../auth/auth.resolver';
import { authChecker } from '../auth/auth-checker';
import { ProfileResolver } from '../profile/profile.resolver';
import { PaymentResolver } from '../payment/payment.resolver';
import { RefundResolver } from '../refund/refund.resolver';
import type { Context } from './context';

/** Every resolver of the API: a new feature's resolver is added here. */
export const resolvers = [AuthResolver, ProfileResolver, PaymentResolver, RefundResolver] as const;

const RETRY =
  'Any field may answer SERVICE_UNAVAILABLE when the database or session store is away: retry later and keep the token.';

export function buildAppSchema(): Promise<GraphQLSchema> {
  return buildGraphQLSchema<Context>({
    resolvers,
    authChecker,
    rootDescriptions: {
      Query: `Reads of the caller's own data. Every field needs \`Authorization: Bearer <token>\` (else UNAUTHENTICATED). ${RETRY}`,
      Mutation: `Login, profile and payment. Every field but login needs \`Authorization: Bearer <token>\` (else UNAUTHENTICATED). ${RETRY}`,
    },
  });
}

/** `npm run schema`: schema.graphql from the resolvers. */
export async function emitSchema(path: string): Promise<void> {
  await writeFile(path, renderSchema(await buildAppSchema()));
}

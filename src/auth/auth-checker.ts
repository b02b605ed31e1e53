import type { AuthChecker } from 'type-graphql';
import { AppError } from '../core/errors';
import type { Context } from '../server/context';

/** Guards every @Authorized() field: a session must have been loaded from the bearer token. */
export const authChecker: AuthChecker<Context> = ({ context }) => {
  // A store outage is not the caller's fault: say so instead of claiming the token is bad.
  if (context.sessionError) throw context.sessionError;
  if (!context.session) throw new AppError('UNAUTHENTICATED');
  return true;
};

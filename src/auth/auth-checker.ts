import type { AuthChecker } from 'type-graphql';
import { AppError } from '../core/errors';
import type { Context } from '../server/context';

/** The roles @Authorized() takes: none (a user's session) or ADMIN (an operator's token, ADMIN_TOKEN_HASHES). */
export const ADMIN = 'ADMIN';

/**
 * Guards every @Authorized() field. Without roles a session must have been loaded from the bearer token; with
 * `ADMIN` the token must be an operator's: a user's session there is FORBIDDEN, no token UNAUTHENTICATED. An operator's
 * token is no user: on a user's operation it is UNAUTHENTICATED.
 */
export const authChecker: AuthChecker<Context> = ({ context }, roles) => {
  if (roles.includes(ADMIN)) {
    if (context.admin) return true;
    if (context.sessionError) throw context.sessionError;
    throw new AppError(context.session ? 'FORBIDDEN' : 'UNAUTHENTICATED');
  }
  // A store outage is not the caller's fault: say so instead of claiming the token is bad.
  if (context.sessionError) throw context.sessionError;
  if (!context.session) throw new AppError('UNAUTHENTICATED');
  return true;
};

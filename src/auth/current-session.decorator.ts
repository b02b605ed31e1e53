import { createParameterDecorator } from 'type-graphql';
import { AppError } from '../core/errors';
import type { Context } from '../server/context';
import type { Session } from './session';

/** The caller's session, for resolvers behind @Authorized(). */
export function CurrentSession() {
  return createParameterDecorator<Context>(({ context }): Session => {
    if (!context.session) throw new AppError('UNAUTHENTICATED');
    return context.session;
  });
}

import type { EntityManager } from '@mikro-orm/core';
import type { FastifyBaseLogger } from 'fastify';
import type { Session, SessionStore } from '../auth/session';
import type { AuthService } from '../auth/auth.service';
import type { ProfileService } from '../profile/profile.service';
import type { PhoneService } from '../profile/phone.service';
import type { FillInService } from '../profile/fill-in.service';
import type { PaymentService } from '../payment/payment.service';
import type { RefundService } from '../refund/refund.service';

/** Long-lived collaborators, built once in createApp and shared by every request. */
export interface Services {
  auth: AuthService;
  profile: ProfileService;
  /** bindPhoneNumber: getuserphonenumber through the shared access_token. */
  phone: PhoneService;
  /** setProfile: the avatar-and-nickname fill-in, through WeChat's content checks. */
  fillIn: FillInService;
  /** createPayment and order(refresh): undefined when payments are not configured. */
  payments?: PaymentService;
  /** refund and an order's refunds: undefined when payments are not configured. */
  refunds?: RefundService;
  /** The token → session store the context resolves Bearer tokens with. */
  sessions: SessionStore;
}

/** Per-request GraphQL context: a forked EntityManager so no state leaks between requests. */
export interface Context {
  /** This request's own EntityManager (identity map, unit of work, transactions), forked on first use. */
  readonly em: EntityManager;
  /**
   * The root EntityManager, for a repository's single typed statement outside any unit of work (me's read): no fork
   * to pay for. MikroORM refuses entity operations on it (allowGlobalContext: false), so nothing can be loaded into
   * it and leak between requests.
   */
  readonly db: EntityManager;
  ip: string;
  token?: string;
  session?: Session;
  /** Set when the session store failed while loading the token's session (e.g. Redis down). */
  sessionError?: Error;
  /** The bearer token is an operator's (ADMIN_TOKEN_HASHES): it opens @Authorized('ADMIN') operations, and no user's. */
  admin?: boolean;
  services: Services;
  log: FastifyBaseLogger;
}

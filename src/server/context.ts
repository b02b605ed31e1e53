import type { EntityManager } from '@mikro-orm/core';
import type { FastifyBaseLogger } from 'fastify';
import type { Logger } from 'pino';
import type { KeyValue } from '../core/kv';
import type { Metrics } from '../ops/metrics';
import type { Config } from '../core/config';
import type { Session, SessionStore } from '../auth/session';
import type { LoginClient } from '../wechat/login.client';
import type { PayClient } from '../wechat/pay.client';
import type { AuthService } from '../auth/auth.service';
import type { ProfileService } from '../profile/profile.service';
import type { PhoneService } from '../profile/phone.service';
import type { FillInService } from '../profile/fill-in.service';

/** Long-lived collaborators, built once in createApp and shared by every request. */
export interface Services {
  auth: AuthService;
  profile: ProfileService;
  /** bindPhoneNumber: getuserphonenumber through the shared access_token. */
  phone: PhoneService;
  /** setProfile: the avatar-and-nickname fill-in, through WeChat's content checks. */
  fillIn: FillInService;
  config: Config;
  logger: Logger;
  /** The key-value store's 'rate-limit' use (auth/rate-limit.ts). */
  rateLimits: KeyValue;
  metrics: Metrics;
  sessions: SessionStore;
  wechatLogin: LoginClient;
  /** Undefined when payments are not configured. */
  wechatPay?: PayClient;
  /** The notify_url sent to WeChat: WECHAT_NOTIFY_URL, or this server's own /notify under the simulator. */
  notifyUrl: () => string;
}

/** Per-request GraphQL context: a forked EntityManager so no state leaks between requests. */
export interface Context {
  em: EntityManager;
  ip: string;
  token?: string;
  session?: Session;
  /** Set when the session store failed while loading the token's session (e.g. Redis down). */
  sessionError?: Error;
  services: Services;
  log: FastifyBaseLogger;
}

import type { Logger } from 'pino';
import type { Config } from '../core/config';
import type { Cache } from '../core/cache';
import type { KeyValueStore } from '../core/kv';
import type { Metrics } from '../ops/metrics';
import { createSessionStore } from '../auth/session';
import { createAuthService } from '../auth/auth.service';
import { createProfileService } from '../profile/profile.service';
import { createLoginClient } from '../wechat/login.client';
import { createPayClient, type PayClient } from '../wechat/pay.client';
import { createPaymentService } from '../payment/payment.service';
import { createNotifyService, type NotifyService } from '../payment/notify.service';
import { createAccessTokenManager } from '../wechat/access-token';
import { createPhoneClient } from '../wechat/phone.client';
import { createPhoneService } from '../profile/phone.service';
import { createContentCheckClient } from '../wechat/content-check.client';
import { createFillInService } from '../profile/fill-in.service';
import { createAvatarService, type AvatarService } from '../avatar/avatar.service';
import { diskAvatarStorage } from '../avatar/avatar.storage';
import { createAvatarReviewService } from '../avatar/avatar-review.service';
import { mediaCheckPushHandler } from '../avatar/avatar.push';
import type { PushHandler } from '../push/push.route';
import { createRefundService } from '../refund/refund.service';
import { createRefundNotifyService, type RefundNotifyService } from '../refund/refund-notify.service';
import { readConfigFile } from '../core/config';
import type { ClientTls } from '../wechat/http';
import type { KeyObject } from 'node:crypto';
import type { PayApi } from '../wechat/pay.client';
import { createV3PayClient } from '../wechat/v3/client';
import type { V3Merchant } from '../wechat/v3/keys';
import { createV3NotifyService, type V3NotifyService } from '../payment/notify-v3.service';
import type { Services } from './context';

export interface ServiceParts {
  logger: Logger;
  cache: Cache;
  kv: KeyValueStore;
  metrics: Metrics;
  /** This server's own base URL once it listens: the in-process simulator and the default notify_url live there. */
  selfUrl: () => string;
  /** Where the in-process simulator is mounted on selfUrl(). */
  simulatorPrefix: string;
  /** The in-process simulator's HTTPS pay API (for /secapi), once it listens; undefined without SIMULATOR_TLS_DIR. */
  simulatorHttpsBase?: () => string | undefined;
  /** WECHAT_PAY_API=v3: the merchant's key pair and WeChat Pay's public keys by id (the simulator's, once mounted). */
  v3Parts?: {
    merchant: V3Merchant;
    platformKeys: () => ReadonlyMap<string, KeyObject>;
    /** Certificate mode: download again when an answer or notify names a serial platformKeys lacks. */
    onUnknownSerial?: (serial: string) => Promise<void>;
  };
}

export interface BuiltServices {
  /** What GraphQL resolvers reach through their context. */
  services: Services;
  /** POST /notify's judge. */
  notify: NotifyService;
  /** Undefined when payments are not configured. */
  wechatPay?: PayClient;
  /** POST /notify/refund's judge; undefined when payments are not configured. */
  refundNotify?: RefundNotifyService;
  /** The WeChat Pay API payments, refunds and the sweeper use: v3's client under WECHAT_PAY_API=v3, else wechatPay. */
  payApi?: PayApi;
  /** POST /notify/v3's judge; undefined unless WECHAT_PAY_API=v3. */
  v3Notify?: V3NotifyService;
  /** POST /avatar's and GET /avatars' store. */
  avatars: AvatarService;
  /** /wechat/push's token and its handlers by event; undefined without WECHAT_PUSH_TOKEN (no push URL). */
  push?: { token: string; handlers: Record<string, PushHandler> };
}

/**
 * The long-lived services every request shares, each given only what it needs, talking to real WeChat or to the
 * simulator. Payments exist only when a merchant is configured.
 */
export function buildServices(
  config: Config,
  { logger, cache, kv, metrics, selfUrl, simulatorPrefix, simulatorHttpsBase, v3Parts }: ServiceParts,
): BuiltServices {
  const simulatorBase = () => `${selfUrl()}${simulatorPrefix}`;
  const pay = config.pay;
  const onCall = (api: string, outcome: string) => metrics.wechatCalls.inc({ api, outcome });
  const rateLimits = kv.for('rate-limit');
  const sessions = createSessionStore(cache, config.sessionTtlSeconds);
  const wechatApiBase = () => config.wechat.apiBase ?? simulatorBase();
  const wechatLogin = createLoginClient({
    apiBase: wechatApiBase,
    appid: config.wechat.appid,
    secret: config.wechat.secret,
    timeoutMs: config.wechat.timeoutMs,
    onCall,
  });
  // One access_token for every instance, in the shared store (Redis when set).
  const accessToken = createAccessTokenManager({
    kv: kv.for('access-token'),
    apiBase: wechatApiBase,
    appid: config.wechat.appid,
    secret: config.wechat.secret,
    timeoutMs: config.wechat.timeoutMs,
    metrics,
    logger,
  });
  const wechatPhone = createPhoneClient({
    apiBase: wechatApiBase,
    appid: config.wechat.appid,
    timeoutMs: config.wechat.timeoutMs,
    onCall,
  });
  const wechatPay =
    pay &&
    createPayClient({
      apiBase: () => pay.apiBase ?? simulatorBase(),
      appid: config.wechat.appid,
      mchId: pay.mchId,
      key: pay.key,
      signType: pay.signType,
      timeoutMs: config.wechat.timeoutMs,
      onCall,
      tls: pay.tls && merchantTls(pay.tls),
      secapiBase: () =>
        pay.apiBase ??
        simulatorHttpsBase?.() ??
        // Without its HTTPS port the in-process simulator answers /secapi with FAIL (no certificate).
        simulatorBase(),
    });
  // Under v3 one route takes pay and refund results alike.
  const v3 = pay?.api === 'v3' ? v3Parts : undefined;
  const payApi: PayApi | undefined =
    pay && v3 && pay.v3
      ? createV3PayClient({
          apiBase: () => pay.apiBase ?? simulatorBase(),
          appid: config.wechat.appid,
          mchId: pay.mchId,
          mchSerial: pay.v3.mchSerial,
          privateKey: v3.merchant.privateKey,
          platformKeys: v3.platformKeys,
          onUnknownSerial: v3.onUnknownSerial,
          timeoutMs: config.wechat.timeoutMs,
          onCall,
        })
      : wechatPay;
  const payNotifyUrl = () => pay?.notifyUrl ?? `${selfUrl()}${v3 ? '/notify/v3' : '/notify'}`;
  const refundNotifyUrl = () =>
    pay?.refundNotifyUrl ??
    (v3
      ? payNotifyUrl()
      : pay?.notifyUrl
        ? `${new URL(pay.notifyUrl).origin}/notify/refund`
        : `${selfUrl()}/notify/refund`);
  const refunds =
    payApi &&
    createRefundService({
      pay: payApi,
      notifyUrl: refundNotifyUrl,
      metrics,
      logger,
      reconcileAfterMs: config.sweep.reconcileAfterSeconds * 1000,
      callTimeoutMs: config.wechat.timeoutMs,
    });
  const avatars = createAvatarService({
    storage: diskAvatarStorage(config.avatar.dir),
    maxBytes: config.avatar.maxBytes,
    publicBaseUrl: () => config.publicBaseUrl ?? selfUrl(),
  });
  const reviews = createAvatarReviewService({ avatars, logger });
  const pushToken = config.wechat.pushToken;
  const services: Services = {
    auth: createAuthService({ wechatLogin, sessions, rateLimits, limits: config.limits }),
    profile: createProfileService({ appid: config.wechat.appid, dataMaxAgeSeconds: config.wechat.dataMaxAgeSeconds }),
    phone: createPhoneService({ wechatPhone, accessToken }),
    fillIn: createFillInService({
      contentCheck: createContentCheckClient({ apiBase: wechatApiBase, timeoutMs: config.wechat.timeoutMs, onCall }),
      accessToken,
      avatars,
      reviews,
      avatarReview: pushToken !== undefined,
    }),
    payments:
      pay &&
      payApi &&
      createPaymentService({
        pay: payApi,
        settings: { maxAmount: pay.maxAmount, description: pay.description, orderTtlSeconds: pay.orderTtlSeconds },
        rateLimits,
        limits: config.limits,
        metrics,
        logger,
        notifyUrl: payNotifyUrl,
      }),
    refunds,
    sessions,
  };
  const notify = createNotifyService({
    // Under v3 there is no v2 key to verify a v2 notify with: /notify refuses them all (503), as with no merchant.
    merchant: pay && wechatPay && !v3 ? { pay: wechatPay, appid: config.wechat.appid, mchId: pay.mchId } : undefined,
    metrics,
    logger,
  });
  const push = pushToken
    ? { token: pushToken, handlers: { wxa_media_check: mediaCheckPushHandler(reviews, config.wechat.appid) } }
    : undefined;
  const refundNotify =
    pay &&
    refunds &&
    createRefundNotifyService({
      merchant: { appid: config.wechat.appid, mchId: pay.mchId, key: pay.key },
      refunds,
      metrics,
      logger,
    });
  const v3Notify =
    pay?.v3 && v3
      ? createV3NotifyService({
          appid: config.wechat.appid,
          mchId: pay.mchId,
          apiV3Key: pay.v3.apiV3Key,
          platformKeys: v3.platformKeys,
          onUnknownSerial: v3.onUnknownSerial,
          refunds,
          metrics,
          logger,
        })
      : undefined;
  return { services, notify, wechatPay, payApi, refundNotify, v3Notify, avatars, push };
}

/** The merchant's API certificate and key (and an extra CA), read once at start: a path that cannot be read stops it. */
function merchantTls(paths: { certPath: string; keyPath: string; caPath?: string }): ClientTls {
  return {
    cert: readConfigFile('WECHAT_PAY_CERT_PEM', paths.certPath),
    key: readConfigFile('WECHAT_PAY_KEY_PEM', paths.keyPath),
    ...(paths.caPath ? { ca: readConfigFile('WECHAT_PAY_CA_PEM', paths.caPath) } : {}),
  };
}

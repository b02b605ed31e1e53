import type { KeyObject } from 'node:crypto';
import { AppError } from '../../core/errors';
import { observed, type CallObserver } from '../http';
import {
  nonceStr,
  type OrderQueryResult,
  type PayApi,
  type RefundInput,
  type RefundState,
  type UnifiedOrderInput,
} from '../pay.client';
import { authorizationHeader, requestPaymentSignV3, verifyWechatpaySignature } from './crypto';

export interface V3ClientOptions {
  /** https://api.mch.weixin.qq.com, or the simulator's base. Read per call. */
  apiBase: () => string;
  appid: string;
  mchId: string;
  /** The merchant API certificate's serial and its private key (apiclient_key.pem). */
  mchSerial: string;
  privateKey: KeyObject;
  /** WeChat Pay's public keys by id (public-key mode): an answer signed under another Wechatpay-Serial is refused. */
  platformKeys: () => ReadonlyMap<string, KeyObject>;
  /** Certificate mode: an answer named a serial platformKeys lacks; resolved once a re-download (if any) is done. */
  onUnknownSerial?: (serial: string) => Promise<void>;
  timeoutMs: number;
  onCall?: CallObserver;
}

/** A v3 answer that verified: its status and its parsed JSON body (undefined for 204). */
interface Verified {
  status: number;
  body?: Record<string, unknown>;
}

/** WeChat Pay v3's error answers whose retry with the same out_refund_no is safe (WeChat's own advice). */
const V3_RETRY_CODES = new Set(['SYSTEM_ERROR', 'FREQUENCY_LIMITED']);

/** `20261204003005` (China time, as PaymentService writes time_expire) → RFC 3339 with +08:00, as v3 wants it. */
export function rfc3339China(compact: string): string {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(compact);
  if (!m) throw new Error('not a yyyyMMddHHmmss time');
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}+08:00`;
}

/** v3's success_time (`2026-12-03T20:00:00+08:00`) as v2's time_end (`20261203200000`, China time). */
export function timeEndOf(successTime: unknown): string | undefined {
  if (typeof successTime !== 'string') return undefined;
  const at = new Date(successTime);
  if (Number.isNaN(at.getTime())) return undefined;
  return new Date(at.getTime() + 8 * 3600_000).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

const unavailable = (api: string, cause: string) => new AppError('WECHAT_UNAVAILABLE', undefined, { api }, { cause });

/**
 * WeChat Pay v3 behind the same interface as v2's client (PayApi), so createPayment, order(refresh), refunds and the
 * sweeper do not know which one they talk to. Every request is signed (Authorization over the exact bytes sent), and
 * every answer's Wechatpay-Signature is verified with the public key its Wechatpay-Serial names before anything in it
 * is believed: an answer that does not verify is WECHAT_UNAVAILABLE and its content is ignored.
 */
export function createV3PayClient(opts: V3ClientOptions): PayApi {
  async function call(api: string, method: 'GET' | 'POST', path: string, payload?: object): Promise<Verified> {
    const body = payload === undefined ? '' : JSON.stringify(payload);
    const authorization = authorizationHeader({
      mchid: opts.mchId,
      serialNo: opts.mchSerial,
      privateKey: opts.privateKey,
      method,
      url: path,
      body,
    });
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${opts.apiBase()}${path}`, {
        method,
        headers: {
          authorization,
          accept: 'application/json',
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(payload === undefined ? {} : { body }),
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      const { name, message } = (err ?? {}) as { name?: string; message?: string };
      const timedOut = name === 'TimeoutError' || name === 'AbortError';
      throw unavailable(api, timedOut ? `${api} timed out after ${opts.timeoutMs} ms` : `${api}: ${message}`);
    }
    const serial = res.headers.get('wechatpay-serial') ?? '';
    let key = opts.platformKeys().get(serial);
    if (!key && opts.onUnknownSerial) {
      await opts.onUnknownSerial(serial);
      key = opts.platformKeys().get(serial);
    }
    if (!key) throw unavailable(api, `${api}: answer signed under an unknown Wechatpay-Serial`);
    const signed = {
      timestamp: res.headers.get('wechatpay-timestamp') ?? '',
      nonce: res.headers.get('wechatpay-nonce') ?? '',
      signature: res.headers.get('wechatpay-signature') ?? '',
    };
    if (!verifyWechatpaySignature(signed, text, key))
      throw unavailable(api, `${api}: answer signature does not verify (HTTP ${res.status})`);
    let parsed: Record<string, unknown> | undefined;
    if (text) {
      try {
        const value: unknown = JSON.parse(text);
        if (typeof value !== 'object' || value === null) throw new Error('not an object');
        parsed = value as Record<string, unknown>;
      } catch {
        throw unavailable(api, `${api}: answer is not a JSON object (HTTP ${res.status})`);
      }
    }
    if (res.status >= 200 && res.status < 300) return { status: res.status, body: parsed };
    const code = typeof parsed?.code === 'string' ? parsed.code : `HTTP_${res.status}`;
    const message = typeof parsed?.message === 'string' ? parsed.message : '';
    throw new AppError(
      res.status >= 500 && !V3_RETRY_CODES.has(code) ? 'WECHAT_UNAVAILABLE' : 'PAYMENT_FAILED',
      undefined,
      { api, wechatErrCode: code, wechatErrMsg: message, httpStatus: res.status },
      { cause: `${api}: HTTP ${res.status} ${code}: ${message}` },
    );
  }

  const observedCall = (api: string, method: 'GET' | 'POST', path: string, payload?: object) =>
    observed(api, opts.onCall, () => call(api, method, path, payload));
  const mchid = encodeURIComponent(opts.mchId);
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);

  return {
    refundsEnabled: true,

    async unifiedOrder(input: UnifiedOrderInput): Promise<{ prepayId: string }> {
      const { body } = await observedCall('jsapi', 'POST', '/v3/pay/transactions/jsapi', {
        appid: opts.appid,
        mchid: opts.mchId,
        description: input.body,
        out_trade_no: input.outTradeNo,
        notify_url: input.notifyUrl,
        amount: { total: input.totalFee, currency: 'CNY' },
        payer: { openid: input.openid },
        ...(input.timeExpire ? { time_expire: rfc3339China(input.timeExpire) } : {}),
        scene_info: { payer_client_ip: input.clientIp },
      });
      const prepayId = str(body?.prepay_id);
      if (!prepayId) throw unavailable('jsapi', 'jsapi: no prepay_id');
      return { prepayId };
    },

    async orderQuery(outTradeNo: string): Promise<OrderQueryResult> {
      const { body = {} } = await observedCall(
        'orderquery',
        'GET',
        `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}?mchid=${mchid}`,
      );
      if (body.appid !== opts.appid || body.mchid !== opts.mchId || body.out_trade_no !== outTradeNo)
        throw unavailable('orderquery', 'orderquery: answer for another appid, mchid or order');
      const amount = body.amount as { total?: unknown } | undefined;
      const fields: Record<string, string> = {};
      if (str(body.transaction_id)) fields.transaction_id = str(body.transaction_id)!;
      if (typeof amount?.total === 'number') fields.total_fee = String(amount.total);
      const timeEnd = timeEndOf(body.success_time);
      if (timeEnd) fields.time_end = timeEnd;
      return { tradeState: str(body.trade_state) ?? '', fields };
    },

    async closeOrder(outTradeNo: string): Promise<void> {
      await observedCall(
        'closeorder',
        'POST',
        `/v3/pay/transactions/out-trade-no/${encodeURIComponent(outTradeNo)}/close`,
        {
          mchid: opts.mchId,
        },
      );
    },

    async refund(input: RefundInput): Promise<{ refundId: string }> {
      let body: Record<string, unknown> | undefined;
      try {
        ({ body } = await observedCall('refund', 'POST', '/v3/refund/domestic/refunds', {
          out_trade_no: input.outTradeNo,
          out_refund_no: input.outRefundNo,
          ...(input.reason ? { reason: input.reason } : {}),
          notify_url: input.notifyUrl,
          amount: { refund: input.refundFee, total: input.totalFee, currency: 'CNY' },
        }));
      } catch (err) {
        if (err instanceof AppError && err.code === 'PAYMENT_FAILED') {
          const code = String(err.extensions.wechatErrCode);
          // The refund service retries these under the same out_refund_no, as it does v2's SYSTEMERROR.
          const wechatErrCode = V3_RETRY_CODES.has(code) ? 'SYSTEMERROR' : code;
          throw new AppError('REFUND_FAILED', undefined, { ...err.extensions, wechatErrCode }, { cause: err.cause });
        }
        throw err;
      }
      const refundId = str(body?.refund_id);
      if (!refundId || body?.out_refund_no !== input.outRefundNo)
        throw unavailable('refund', 'refund: answer without refund_id or for another out_refund_no');
      return { refundId };
    },

    async refundQuery(outRefundNo: string): Promise<RefundState | undefined> {
      let body: Record<string, unknown> | undefined;
      try {
        ({ body } = await observedCall(
          'refundquery',
          'GET',
          `/v3/refund/domestic/refunds/${encodeURIComponent(outRefundNo)}`,
        ));
      } catch (err) {
        if (err instanceof AppError && err.extensions.httpStatus === 404) return undefined;
        throw err;
      }
      const amount = body?.amount as { refund?: unknown } | undefined;
      return {
        status: refundStatusOf(str(body?.status)),
        refundId: str(body?.refund_id),
        refundFee: typeof amount?.refund === 'number' ? String(amount.refund) : undefined,
        successTime: str(body?.success_time),
      };
    },

    requestPaymentParams(prepayId: string, now = Date.now()) {
      const params = {
        appId: opts.appid,
        timeStamp: String(Math.floor(now / 1000)),
        nonceStr: nonceStr(),
        package: `prepay_id=${prepayId}`,
      };
      const { appId: _appId, ...rest } = params;
      return { ...rest, signType: 'RSA', paySign: requestPaymentSignV3(params, opts.privateKey) };
    },
  };
}

/** v3's refund states in v2's words (what RefundService.applyResult speaks): CLOSED (or CLOSE) and ABNORMAL. */
export function refundStatusOf(status: string | undefined): RefundState['status'] {
  if (status === 'CLOSED' || status === 'CLOSE') return 'REFUNDCLOSE';
  if (status === 'ABNORMAL') return 'CHANGE';
  return status ?? '';
}

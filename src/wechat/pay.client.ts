import { randomBytes } from 'node:crypto';
import { AppError } from '../core/errors';
import { callWeChat, callWeChatTls, observed, tlsAgent, type CallObserver, type ClientTls } from './http';
import { paySign, verifyPaySign, type SignType } from './pay-sign';
import { buildPayXml, parsePayXml } from './pay-xml';

export interface PayClientOptions {
  /** e.g. https://api.mch.weixin.qq.com, or the simulator's base. Read per call: the simulator's is known only after listen. */
  apiBase: () => string;
  appid: string;
  mchId: string;
  key: string;
  signType: SignType;
  timeoutMs: number;
  onCall?: CallObserver;
  /**
   * The merchant's API certificate for /secapi (refunds), and where /secapi is (WeChat's own base; the simulator
   * serves it on an HTTPS port of its own). Without `tls`, refund() is refused before any call.
   */
  tls?: ClientTls;
  secapiBase?: () => string;
}

export interface RefundInput {
  outTradeNo: string;
  outRefundNo: string;
  /** The order's amount (total_fee) and this refund's (refund_fee), integer fen. */
  totalFee: number;
  refundFee: number;
  reason?: string | null;
  notifyUrl: string;
}

/** refundquery's view of one refund. */
export interface RefundState {
  status: 'SUCCESS' | 'REFUNDCLOSE' | 'PROCESSING' | 'CHANGE' | (string & {});
  refundId?: string;
  refundFee?: string;
  successTime?: string;
}

/** WeChat's refund err_codes that mean "try again with the same out_refund_no". */
export const REFUND_RETRY_CODES: ReadonlySet<string> = new Set(['SYSTEMERROR', 'BIZERR_NEED_RETRY']);

export interface UnifiedOrderInput {
  outTradeNo: string;
  totalFee: number;
  body: string;
  openid: string;
  clientIp: string;
  notifyUrl: string;
  /** time_expire, yyyyMMddHHmmss in China time: WeChat stops taking payment then (it wants it ≥ 5 min ahead). */
  timeExpire?: string;
}

export type TradeState =
  'SUCCESS' | 'REFUND' | 'NOTPAY' | 'CLOSED' | 'REVOKED' | 'USERPAYING' | 'PAYERROR' | (string & {});

export interface OrderQueryResult {
  tradeState: TradeState;
  fields: Record<string, string>;
}

/** 32 characters from crypto randomness; WeChat allows at most 32. */
export function nonceStr(): string {
  return randomBytes(24).toString('base64url').slice(0, 32);
}

export function createPayClient(opts: PayClientOptions) {
  /**
   * One signed v2 call. Checks return_code (the call itself), then result_code (the business answer), then the
   * answer's own sign: an unsigned "SUCCESS" could have come from anyone between us and WeChat.
   */
  const call = (api: string, fields: Record<string, string | number>) =>
    observed(api, opts.onCall, () => signedCall(api, fields));
  const agent = opts.tls && tlsAgent(opts.tls);

  async function signedCall(
    api: string,
    fields: Record<string, string | number>,
    secapi = false,
  ): Promise<Record<string, string>> {
    const params: Record<string, string> = { appid: opts.appid, mch_id: opts.mchId, nonce_str: nonceStr() };
    for (const [k, v] of Object.entries(fields)) params[k] = String(v);
    if (opts.signType === 'HMAC-SHA256') params.sign_type = 'HMAC-SHA256';
    params.sign = paySign(params, opts.key, opts.signType);

    const body = buildPayXml(params);
    const base = opts.apiBase();
    // With the merchant's certificate configured, every https call presents it (and trusts WECHAT_PAY_CA_PEM).
    const res = secapi
      ? await callWeChatTls(
          `${(opts.secapiBase ?? opts.apiBase)()}/secapi/pay/${api}`,
          body,
          agent!,
          opts.timeoutMs,
          api,
        )
      : agent && base.startsWith('https:')
        ? await callWeChatTls(`${base}/pay/${api}`, body, agent, opts.timeoutMs, api)
        : await callWeChat(
            `${base}/pay/${api}`,
            { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body },
            opts.timeoutMs,
            api,
          );
    if (res.status >= 500)
      throw new AppError('WECHAT_UNAVAILABLE', undefined, { api }, { cause: `${api}: HTTP ${res.status}` });
    let answer: Record<string, string>;
    try {
      answer = parsePayXml(res.text);
    } catch (err) {
      throw new AppError(
        'WECHAT_UNAVAILABLE',
        undefined,
        { api },
        { cause: `${api}: unreadable answer (${(err as Error).message})` },
      );
    }
    if (answer.return_code !== 'SUCCESS') {
      throw new AppError(
        'PAYMENT_FAILED',
        undefined,
        { api, wechatErrCode: 'RETURN_FAIL', wechatErrMsg: answer.return_msg ?? '' },
        { cause: `${api}: return_code ${answer.return_code}: ${answer.return_msg}` },
      );
    }
    if (answer.result_code !== 'SUCCESS') {
      throw new AppError(
        'PAYMENT_FAILED',
        undefined,
        { api, wechatErrCode: answer.err_code ?? 'FAIL', wechatErrMsg: answer.err_code_des ?? '' },
        { cause: `${api}: err_code ${answer.err_code}: ${answer.err_code_des}` },
      );
    }
    if (!verifyPaySign(answer, opts.key, opts.signType)) {
      throw new AppError('WECHAT_UNAVAILABLE', undefined, { api }, { cause: `${api}: answer sign does not verify` });
    }
    if (answer.appid !== undefined && answer.appid !== opts.appid) {
      throw new AppError('WECHAT_UNAVAILABLE', undefined, { api }, { cause: `${api}: answer for another appid` });
    }
    return answer;
  }

  return {
    async unifiedOrder(input: UnifiedOrderInput): Promise<{ prepayId: string }> {
      const answer = await call('unifiedorder', {
        body: input.body,
        out_trade_no: input.outTradeNo,
        total_fee: input.totalFee,
        spbill_create_ip: input.clientIp,
        notify_url: input.notifyUrl,
        trade_type: 'JSAPI',
        openid: input.openid,
        ...(input.timeExpire ? { time_expire: input.timeExpire } : {}),
      });
      if (!answer.prepay_id)
        throw new AppError(
          'WECHAT_UNAVAILABLE',
          undefined,
          { api: 'unifiedorder' },
          { cause: 'unifiedorder: no prepay_id' },
        );
      return { prepayId: answer.prepay_id };
    },

    async orderQuery(outTradeNo: string): Promise<OrderQueryResult> {
      const answer = await call('orderquery', { out_trade_no: outTradeNo });
      return { tradeState: answer.trade_state ?? '', fields: answer };
    },

    async closeOrder(outTradeNo: string): Promise<void> {
      await call('closeorder', { out_trade_no: outTradeNo });
    },

    /** Closes the mutual-TLS agent's keep-alive sockets (at shutdown). */
    close: () => agent?.destroy(),

    /** Whether refund() can be called at all: the merchant's API certificate is configured. */
    refundsEnabled: Boolean(agent),

    /**
     * secapi/pay/refund over mutual TLS. Answers WeChat's refund_id (the refund is then PROCESSING at WeChat). A
     * business refusal is REFUND_FAILED with wechatErrCode (REFUND_RETRY_CODES mean: call again with the same
     * out_refund_no); an answer that is not WeChat's, or none, is WECHAT_UNAVAILABLE.
     */
    async refund(input: RefundInput): Promise<{ refundId: string }> {
      if (!agent) throw new AppError('REFUNDS_DISABLED');
      const answer = await observed('refund', opts.onCall, async () => {
        try {
          return await signedCall(
            'refund',
            {
              out_trade_no: input.outTradeNo,
              out_refund_no: input.outRefundNo,
              total_fee: input.totalFee,
              refund_fee: input.refundFee,
              ...(input.reason ? { refund_desc: input.reason } : {}),
              notify_url: input.notifyUrl,
            },
            true,
          );
        } catch (err) {
          if (err instanceof AppError && err.code === 'PAYMENT_FAILED')
            throw new AppError('REFUND_FAILED', undefined, err.extensions, { cause: err.cause });
          throw err;
        }
      });
      if (!answer.refund_id || answer.out_refund_no !== input.outRefundNo)
        throw new AppError(
          'WECHAT_UNAVAILABLE',
          undefined,
          { api: 'refund' },
          { cause: 'refund: answer without refund_id or for another out_refund_no' },
        );
      return { refundId: answer.refund_id };
    },

    /** refundquery for one out_refund_no; undefined when WeChat has no such refund (REFUNDNOTEXIST). */
    async refundQuery(outRefundNo: string): Promise<RefundState | undefined> {
      let answer: Record<string, string>;
      try {
        answer = await call('refundquery', { out_refund_no: outRefundNo });
      } catch (err) {
        if (err instanceof AppError && err.extensions.wechatErrCode === 'REFUNDNOTEXIST') return undefined;
        throw err;
      }
      // The answer lists every refund of the order as field_$n: ours is the one with our out_refund_no.
      const count = Number(answer.refund_count ?? '0');
      for (let n = 0; n < count && n < 50; n += 1) {
        if (answer[`out_refund_no_${n}`] !== outRefundNo) continue;
        return {
          status: answer[`refund_status_${n}`] ?? '',
          refundId: answer[`refund_id_${n}`],
          refundFee: answer[`refund_fee_${n}`],
          successTime: answer[`refund_success_time_${n}`],
        };
      }
      return undefined;
    },

    /** The second signature, for wx.requestPayment: over exactly these five camelCase fields, never the unifiedorder sign. */
    requestPaymentParams(prepayId: string, now = Date.now()) {
      const base = {
        appId: opts.appid,
        timeStamp: String(Math.floor(now / 1000)),
        nonceStr: nonceStr(),
        package: `prepay_id=${prepayId}`,
        signType: opts.signType,
      };
      const { appId: _appId, ...rest } = base;
      return { ...rest, paySign: paySign(base, opts.key, opts.signType) };
    },

    /**
     * Checks a notify's sign. A declared sign_type is honoured; without one WeChat's default is MD5, but some
     * HMAC-SHA256 merchants receive notifies without the field, so the configured type is tried too. Both need the key.
     */
    verify(fields: Record<string, string>): boolean {
      if (fields.sign_type !== undefined) return verifyPaySign(fields, opts.key);
      return (
        verifyPaySign(fields, opts.key, opts.signType) ||
        (opts.signType !== 'MD5' && verifyPaySign(fields, opts.key, 'MD5'))
      );
    },
  };
}

export type PayClient = ReturnType<typeof createPayClient>;

/**
 * What payments, refunds and the sweeper need of WeChat Pay, whichever API serves it: v2 (createPayClient) or v3
 * (createV3PayClient). The v2 client also verifies v2 notifies (`verify`), which only /notify uses.
 */
export interface PayApi {
  refundsEnabled: boolean;
  unifiedOrder(input: UnifiedOrderInput): Promise<{ prepayId: string }>;
  orderQuery(outTradeNo: string): Promise<OrderQueryResult>;
  closeOrder(outTradeNo: string): Promise<void>;
  refund(input: RefundInput): Promise<{ refundId: string }>;
  refundQuery(outRefundNo: string): Promise<RefundState | undefined>;
  requestPaymentParams(
    prepayId: string,
    now?: number,
  ): { timeStamp: string; nonceStr: string; package: string; signType: string; paySign: string };
}

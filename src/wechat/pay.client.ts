import { randomBytes } from 'node:crypto';
import { AppError } from '../core/errors';
import { callWeChat, observed, type CallObserver } from './http';
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
}

export interface UnifiedOrderInput {
  outTradeNo: string;
  totalFee: number;
  body: string;
  openid: string;
  clientIp: string;
  notifyUrl: string;
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

  async function signedCall(api: string, fields: Record<string, string | number>): Promise<Record<string, string>> {
    const params: Record<string, string> = { appid: opts.appid, mch_id: opts.mchId, nonce_str: nonceStr() };
    for (const [k, v] of Object.entries(fields)) params[k] = String(v);
    if (opts.signType === 'HMAC-SHA256') params.sign_type = 'HMAC-SHA256';
    params.sign = paySign(params, opts.key, opts.signType);

    const res = await callWeChat(
      `${opts.apiBase()}/pay/${api}`,
      { method: 'POST', headers: { 'content-type': 'text/xml; charset=utf-8' }, body: buildPayXml(params) },
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

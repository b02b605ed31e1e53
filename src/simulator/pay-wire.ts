import type { FastifyInstance, FastifyReply } from 'fastify';
import { paySign, SIGN_TYPES, type SignType, verifyPaySign } from '../wechat/pay-sign';
import { buildPayXml, parsePayXml, type PayXmlLayout } from '../wechat/pay-xml';
import { newNonce } from './pay-state';

/** What every WeChat Pay v2 answer of the simulator needs: the merchant it serves, and how to lay messages out. */
export interface PayWireIdentity {
  appid: string;
  mchId: string;
  payKey: string;
  /** The layout of the next message (answer or notify): WeChat's own by default, varied for the test suites. */
  layout: () => PayXmlLayout;
}

export type Fields = Record<string, string | number | undefined>;

/** err_code_des as WeChat writes them (pay and refund APIs). */
const ERR_CODE_DES: Record<string, string> = {
  APPID_NOT_EXIST: 'APPID不存在',
  MCHID_NOT_EXIST: 'MCHID不存在',
  SIGNERROR: '签名错误',
  PARAM_ERROR: '参数错误',
  INVALID_REQUEST: '商户订单号重复',
  ORDERPAID: '该订单已支付',
  ORDERCLOSED: '订单已关闭',
  ORDERNOTEXIST: '此交易订单号不存在',
  NOTENOUGH: '余额不足',
  NOAUTH: '商户无此接口权限',
  SYSTEMERROR: '系统错误',
  BIZERR_NEED_RETRY: '退款业务流程错误，需要商户触发重试来解决',
  TRADE_OVERDUE: '订单已经超过退款期限',
  ERROR: '业务错误',
  USER_ACCOUNT_ABNORMAL: '退款请求失败',
  INVALID_REQ_TOO_MUCH: '无效请求过多',
  INVALID_TRANSACTIONID: '无效transaction_id',
  FREQUENCY_LIMITED: '频率限制',
  REFUND_FEE_MISMATCH: '订单金额或退款金额与之前请求不一致，请核实后再试',
  REFUNDNOTEXIST: '退款订单查询失败',
  CERT_ERROR: '证书校验错误',
  ORDER_NOT_READY: '订单处理中，暂时无法退款，请稍后再试',
};

/**
 * Every body of the wire routes is read as a string: WeChat reads the XML whatever the Content-Type says (none,
 * text/plain, form or JSON included), and the sign check needs the exact text. Call it on the routes' own scope, so
 * the app's and the /dev routes' parsers are untouched.
 */
export function readBodiesAsText(wire: FastifyInstance) {
  wire.removeAllContentTypeParsers();
  wire.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
}

/** Builds WeChat's signed answers: every answer carries a fresh nonce_str and a sign in the request's sign type. */
export function payAnswers(opts: PayWireIdentity) {
  const signed = (signType: SignType, fields: Fields, badSign = false): string => {
    const all = { ...fields, nonce_str: newNonce() };
    const sign = paySign(all, badSign ? opts.payKey + 'x' : opts.payKey, signType);
    return buildPayXml({ ...all, sign }, opts.layout());
  };
  const head = { return_code: 'SUCCESS', return_msg: 'OK', appid: opts.appid, mch_id: opts.mchId };
  const fail = (signType: SignType, errCode: string, des?: string) =>
    signed(signType, {
      ...head,
      result_code: 'FAIL',
      err_code: errCode,
      err_code_des: des ?? ERR_CODE_DES[errCode] ?? errCode,
    });
  const returnFail = (message: string) => buildPayXml({ return_code: 'FAIL', return_msg: message }, opts.layout());
  return {
    ok: (signType: SignType, fields: Fields, badSign?: boolean) =>
      signed(signType, { ...head, result_code: 'SUCCESS', ...fields }, badSign),
    fail,
    /** A communication-level refusal: return_code FAIL, unsigned, as WeChat sends it. */
    returnFail,
    /**
     * What an armed fault (/dev/pay-fault, /dev/refund-fault) answers instead of WeChat's answer, in the order a
     * real outage shows it: an HTTP error, a body that is not XML, a return_code FAIL saying `returnMsg`, a
     * result_code FAIL; undefined when the fault only delays.
     */
    faulty(fault: WireFault | undefined, signType: SignType, returnMsg: string): RawAnswer | undefined {
      if (!fault) return undefined;
      if (fault.httpStatus)
        return { status: fault.httpStatus, type: 'text/html', body: '<html><body>Bad Gateway</body></html>' };
      if (fault.garbage) return { status: 200, type: 'text/html', body: '<html>upstream garbage, not XML' };
      if (fault.returnFail) return xmlAnswer(returnFail(returnMsg));
      if (fault.errCode) return xmlAnswer(fail(signType, fault.errCode, fault.errCodeDes));
      return undefined;
    },
    /**
     * The start of every v2 call: its fields and the sign type its answers are signed in, or (`answer`) the
     * return_code FAIL a body that is not XML gets.
     */
    read(body: unknown): { fields: Record<string, string>; signType: SignType } | { answer: string } {
      const fields = readXml(body);
      return fields ? { fields, signType: signTypeOf(fields) } : { answer: returnFail('XML格式错误') };
    },
    /**
     * The signed result_code FAIL for the first thing wrong with a call: the merchant, its sign, its appid and
     * nonce_str (checkMerchant), then the route's own `params` check; undefined when the call may proceed.
     */
    refusal(
      fields: Record<string, string>,
      signType: SignType,
      params: (fields: Record<string, string>) => Refusal | undefined,
    ): string | undefined {
      const refused = checkMerchant(fields, opts) ?? params(fields);
      return refused && fail(signType, refused.errCode, refused.des);
    },
  };
}

export type PayAnswers = ReturnType<typeof payAnswers>;

/** The answers a fault armed for the pay and refund APIs can replace WeChat's with (PayFault, RefundFault). */
export interface WireFault {
  /** Answer result_code FAIL with this err_code. */
  errCode?: string;
  errCodeDes?: string;
  /** Answer return_code FAIL. */
  returnFail?: boolean;
  /** Answer with a body that is not XML. */
  garbage?: boolean;
  /** Answer with this HTTP status (e.g. 502). */
  httpStatus?: number;
}

export interface RawAnswer {
  status: number;
  type: string;
  body: string;
}

export const xmlAnswer = (body: string): RawAnswer => ({ status: 200, type: 'text/xml', body });

export interface Refusal {
  errCode: string;
  des?: string;
}

export function paramError(reason: string): Refusal {
  return { errCode: 'PARAM_ERROR', des: `参数错误: ${reason}` };
}

/** The key is looked up by mch_id, so an unknown merchant is named before a sign that cannot match. */
function checkMerchant(fields: Record<string, string>, opts: PayWireIdentity): Refusal | undefined {
  if (fields.mch_id !== opts.mchId) return { errCode: 'MCHID_NOT_EXIST' };
  if (!verifyPaySign(fields, opts.payKey)) return { errCode: 'SIGNERROR' };
  if (fields.appid !== opts.appid) return { errCode: 'APPID_NOT_EXIST' };
  if (!fields.nonce_str) return paramError('missing nonce_str');
  return undefined;
}

function readXml(body: unknown): Record<string, string> | undefined {
  if (typeof body !== 'string') return undefined;
  try {
    return parsePayXml(body);
  } catch {
    return undefined;
  }
}

/** The answer is signed the way the request was; an unknown sign_type falls back to WeChat's default, MD5. */
function signTypeOf(fields: Record<string, string>): SignType {
  return SIGN_TYPES.includes(fields.sign_type as SignType) ? (fields.sign_type as SignType) : 'MD5';
}

export function sendXml(reply: FastifyReply, xml: string) {
  return reply.type('text/xml').send(xml);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string' || !/^https?:\/\//.test(value)) return false;
  return URL.canParse(value);
}

/** A positive integer number of fen, as WeChat wants amounts written. */
export function isFen(value: string | undefined): boolean {
  return value !== undefined && /^[1-9]\d*$/.test(value) && Number.isSafeInteger(Number(value));
}

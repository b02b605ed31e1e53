import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import { AppError, type ErrorCode } from '../core/errors';
import { buildPayXml, parsePayXml, PayXmlError, type PayXmlLayout } from './pay-xml';
import { decodeBase64Strict, padPkcs7, unpadPkcs7 } from './user-data';

/**
 * WeChat Pay v2's refund result notify (退款结果通知). It carries no sign: the only proof it came from WeChat is that
 * req_info decrypts under our API key (AES-256-ECB, key = the 32 ASCII bytes of lowercase hex md5(API key), PKCS#7)
 * to a well-formed <root> message. ECB has no integrity: whoever holds other ciphertexts under the same key can cut
 * and splice whole 16-byte blocks, so a block spliced in whole can change a value without breaking the padding or
 * the XML. The settlement must therefore match these fields against our own refund (out_refund_no, out_trade_no,
 * amounts) and never take an amount from here on trust.
 *
 * Every refusal is an AppError with `extensions.reason` (what the notify route records as its verdict). Messages
 * name the field that failed and never carry the key, the AES key or any decrypted value. The codes mirror the user
 * data decrypt (user-data.ts): BAD_USER_INPUT for a body that is malformed before any decryption, WECHAT_DECRYPT_FAILED
 * once req_info does not open, or opens to something that is not a refund result.
 */

export const REFUND_STATUSES = ['SUCCESS', 'CHANGE', 'REFUNDCLOSE'] as const;
export type RefundStatus = (typeof REFUND_STATUSES)[number];

export type RefundNotifyRefusal =
  | 'MALFORMED'
  | 'DOCTYPE'
  | 'RETURN_FAIL'
  | 'MISSING_FIELD'
  | 'BAD_BASE64'
  | 'NO_KEY'
  | 'UNDECRYPTABLE'
  | 'BAD_PLAINTEXT'
  | 'BAD_FIELD';

/** The decrypted req_info, amounts in integer fen. */
export interface RefundReqInfo {
  outRefundNo: string;
  outTradeNo: string;
  refundId: string;
  transactionId: string;
  totalFee: number;
  refundFee: number;
  /** The refund less non-cash coupons: what actually goes back. */
  settlementRefundFee: number;
  /** Sent when the order used coupons. */
  settlementTotalFee?: number;
  refundStatus: RefundStatus;
  /** As WeChat sent it, `yyyy-MM-dd HH:mm:ss` in China time; sent for SUCCESS. */
  successTime?: string;
  /** successTime as an instant (China time is UTC+8 all year). */
  succeededAt?: Date;
  /** WeChat's spelling (accout), kept at the wire boundary. */
  refundRecvAccout?: string;
  refundAccount?: string;
  refundRequestSource?: string;
}

export interface RefundNotify extends RefundReqInfo {
  appid: string;
  mchId: string;
  nonceStr?: string;
}

const refused = (code: ErrorCode, reason: RefundNotifyRefusal, message: string, field?: string) =>
  new AppError(code, `refund notify: ${message}`, field ? { reason, field } : { reason });
const malformed = (reason: RefundNotifyRefusal, message: string, field?: string) =>
  refused('BAD_USER_INPUT', reason, message, field);
const unverified = (reason: RefundNotifyRefusal, message: string, field?: string) =>
  refused('WECHAT_DECRYPT_FAILED', reason, message, field);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The notify body as POSTed: parsed strictly, return_code checked, req_info decrypted and read. */
export function decryptRefundNotify(xml: string | Buffer, apiKey: string): RefundNotify {
  let text: string;
  if (typeof xml === 'string') text = xml;
  else {
    try {
      text = utf8.decode(xml);
    } catch {
      throw malformed('MALFORMED', 'the body is not UTF-8');
    }
  }
  let outer: Record<string, string>;
  try {
    outer = parsePayXml(text);
  } catch (err) {
    if (!(err instanceof PayXmlError)) throw err;
    // The outer message holds nothing secret (req_info is still sealed), so the parser's reason may be shown.
    throw malformed(err.reason === 'DOCTYPE' ? 'DOCTYPE' : 'MALFORMED', err.message.slice(0, 200));
  }
  if (outer.return_code !== 'SUCCESS') throw malformed('RETURN_FAIL', 'return_code is not SUCCESS');
  for (const field of ['appid', 'mch_id', 'req_info']) {
    if (!outer[field]) throw malformed('MISSING_FIELD', `${field} is missing`, field);
  }
  return {
    appid: outer.appid,
    mchId: outer.mch_id,
    ...(outer.nonce_str ? { nonceStr: outer.nonce_str } : {}),
    ...decryptRefundReqInfo(outer.req_info, apiKey),
  };
}

/** req_info alone: strict base64, AES-256-ECB with every padding byte checked, strict UTF-8, then <root>'s fields. */
export function decryptRefundReqInfo(reqInfo: string, apiKey: string): RefundReqInfo {
  let sealed: Buffer;
  try {
    sealed = decodeBase64Strict(reqInfo, 'req_info');
  } catch {
    throw malformed('BAD_BASE64', 'req_info is not canonical base64', 'req_info');
  }
  if (sealed.length === 0 || sealed.length % 16 !== 0)
    throw unverified('UNDECRYPTABLE', 'req_info is not whole AES blocks', 'req_info');
  const decipher = createDecipheriv('aes-256-ecb', reqInfoKey(apiKey), null);
  decipher.setAutoPadding(false);
  let plain: Buffer;
  try {
    plain = unpadPkcs7(Buffer.concat([decipher.update(sealed), decipher.final()]));
  } catch {
    throw unverified(
      'UNDECRYPTABLE',
      'req_info does not decrypt under this API key (bad PKCS#7 padding): a wrong key or a tampered message',
      'req_info',
    );
  }
  let text: string;
  try {
    text = utf8.decode(plain);
  } catch {
    throw unverified('BAD_PLAINTEXT', 'req_info decrypts to bytes that are not UTF-8', 'req_info');
  }
  let fields: Record<string, string>;
  try {
    fields = parsePayXml(text, 'root');
  } catch (err) {
    if (!(err instanceof PayXmlError)) throw err;
    // Only the parser's category: its message may quote the decrypted text.
    throw unverified('BAD_PLAINTEXT', `req_info decrypts to no flat <root> message (${err.reason})`, 'req_info');
  }
  return readReqInfo(fields);
}

function readReqInfo(f: Record<string, string>): RefundReqInfo {
  const status = required(f, 'refund_status');
  if (!(REFUND_STATUSES as readonly string[]).includes(status))
    throw unverified('BAD_FIELD', `refund_status is not one of ${REFUND_STATUSES.join(', ')}`, 'refund_status');
  const out: RefundReqInfo = {
    outRefundNo: required(f, 'out_refund_no'),
    outTradeNo: required(f, 'out_trade_no'),
    refundId: required(f, 'refund_id'),
    transactionId: required(f, 'transaction_id'),
    totalFee: fen(f, 'total_fee'),
    refundFee: fen(f, 'refund_fee'),
    settlementRefundFee: fen(f, 'settlement_refund_fee'),
    refundStatus: status as RefundStatus,
  };
  if (f.settlement_total_fee !== undefined) out.settlementTotalFee = fen(f, 'settlement_total_fee');
  // Empty is as good as absent: WeChat may send the element bare for a refund that has not succeeded.
  if (f.success_time) {
    out.successTime = f.success_time;
    out.succeededAt = chinaTime(f.success_time);
  }
  if (f.refund_recv_accout) out.refundRecvAccout = f.refund_recv_accout;
  if (f.refund_account) out.refundAccount = f.refund_account;
  if (f.refund_request_source) out.refundRequestSource = f.refund_request_source;
  return out;
}

function required(f: Record<string, string>, field: string): string {
  const value = f[field];
  if (!value) throw unverified('BAD_FIELD', `req_info lacks ${field}`, field);
  return value;
}

/** Integer fen as WeChat writes it: ASCII digits, no sign, no leading zero, within Number's exact integers. */
function fen(f: Record<string, string>, field: string): number {
  const value = required(f, field);
  const n = /^(?:0|[1-9][0-9]*)$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw unverified('BAD_FIELD', `${field} is not an integer number of fen`, field);
  return n;
}

function chinaTime(value: string): Date {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2}) ([0-9]{2}):([0-9]{2}):([0-9]{2})$/.exec(value);
  const [y, mo, d, h, mi, s] = (m ?? []).slice(1).map(Number);
  const at = new Date(Date.UTC(y, mo - 1, d, h - 8, mi, s));
  // Date.UTC rolls 02-30 over to March: a date that does not read back as written is not a date.
  const back = m && new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
  if (back !== value) throw unverified('BAD_FIELD', 'success_time is not yyyy-MM-dd HH:mm:ss', 'success_time');
  return at;
}

/** The AES key: the 32 ASCII characters of lowercase hex md5(API key), used as bytes (not the 16-byte digest). */
function reqInfoKey(apiKey: string): Buffer {
  if (!apiKey) throw unverified('NO_KEY', 'no API key to decrypt with');
  return Buffer.from(createHash('md5').update(apiKey, 'utf8').digest('hex'), 'ascii');
}

/**
 * What WeChat does (for the simulator): the fields as <root>, in one of the v2 layouts, sealed as req_info. Values
 * go out as given, so a simulator can also send a refund result that decryptRefundReqInfo must refuse.
 */
export function encryptRefundReqInfo(
  fields: Record<string, string | number | undefined>,
  apiKey: string,
  layout: PayXmlLayout = 'newline',
): string {
  return encryptReqInfoText(buildPayXml(fields, layout, 'root'), apiKey);
}

/** Seals any plaintext as req_info: PKCS#7, AES-256-ECB, base64. */
export function encryptReqInfoText(plaintext: string | Buffer, apiKey: string): string {
  const cipher = createCipheriv('aes-256-ecb', reqInfoKey(apiKey), null);
  cipher.setAutoPadding(false);
  const bytes = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  return Buffer.concat([cipher.update(padPkcs7(bytes)), cipher.final()]).toString('base64');
}

import { randomBytes } from 'node:crypto';
import { paySign, type SignType } from '../../src/wechat/pay-sign';
import { buildPayXml } from '../../src/wechat/pay-xml';
import { SIMULATOR_PREFIX } from '../../src/app';
import type { TestServer } from './server';

export const CREATE_PAYMENT = `mutation CreatePayment($money: Int!) { createPayment(money: $money) {
  order { id outTradeNo amount description status transactionId paidAt createdAt }
  payParams { timeStamp nonceStr package signType paySign } } }`;
export const ORDER = `query Order($outTradeNo: String!, $refresh: Boolean) { order(outTradeNo: $outTradeNo, refresh: $refresh) {
  id outTradeNo amount status transactionId paidAt } }`;
export const ORDERS = `query Orders($first: Int) { orders(first: $first) { id outTradeNo amount status } }`;

export interface PayParams {
  timeStamp: string;
  nonceStr: string;
  package: string;
  signType: string;
  paySign: string;
}
export interface CreatedPayment {
  order: { id: string; outTradeNo: string; amount: number; description: string; status: string };
  payParams: PayParams;
}

export async function createPayment(t: TestServer, token: string, money: number): Promise<CreatedPayment> {
  const res = await t.gql<{ createPayment: CreatedPayment }>(CREATE_PAYMENT, { money }, token);
  if (!res.data?.createPayment) throw new Error(`createPayment failed: ${res.text}`);
  return res.data.createPayment;
}

export interface Delivery {
  url: string;
  status: number | null;
  returnCode: string | null;
}
export interface PaymentAnswer {
  errMsg: string;
  transactionId?: string;
  outTradeNo?: string;
  deliveries?: Delivery[];
}

/** Plays wx.requestPayment through the simulator; options tamper, duplicate or drop the notify. */
export async function requestPayment(
  t: TestServer,
  params: PayParams,
  options: Record<string, unknown> = {},
): Promise<{ status: number; body: PaymentAnswer }> {
  const res = await fetch(`${t.url}${SIMULATOR_PREFIX}/dev/request-payment`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ appId: t.server.config.wechat.appid, ...params, ...options }),
  });
  return { status: res.status, body: (await res.json()) as PaymentAnswer };
}

export async function armPayFault(t: TestServer, openid: string, fault: Record<string, unknown>) {
  const res = await fetch(`${t.url}${SIMULATOR_PREFIX}/dev/pay-fault`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ openid, fault }),
  });
  if (res.status !== 200) throw new Error(`pay-fault: ${res.status} ${await res.text()}`);
}

/** A pay-result notify as WeChat would sign it with this server's merchant key, for forging variations. */
export function signedNotify(t: TestServer, fields: Record<string, string>, signType: SignType = 'MD5'): string {
  const { appid } = t.server.config.wechat;
  const { mchId, key } = t.server.config.pay!;
  const params: Record<string, string> = {
    return_code: 'SUCCESS',
    return_msg: 'OK',
    appid,
    mch_id: mchId,
    nonce_str: randomBytes(12).toString('hex'),
    result_code: 'SUCCESS',
    openid: 'oNotify',
    trade_type: 'JSAPI',
    bank_type: 'CMC',
    fee_type: 'CNY',
    transaction_id: `4200${Date.now()}${randomBytes(4).toString('hex')}`.slice(0, 28),
    time_end: '20261123200000',
    ...fields,
  };
  if (signType === 'HMAC-SHA256') params.sign_type = 'HMAC-SHA256';
  params.sign = paySign(params, key, signType);
  return buildPayXml(params);
}

export async function postNotify(
  t: TestServer,
  body: string,
  contentType = 'text/xml',
): Promise<{ status: number; text: string }> {
  const res = await fetch(`${t.url}/notify`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await res.text();
  t.responses.push(text);
  return { status: res.status, text };
}

export const returnCodeOf = (xml: string) => /<return_code><!\[CDATA\[(\w+)\]\]><\/return_code>/.exec(xml)?.[1];

/** Rows straight from the database, not through our code. */
export async function orderRow(t: TestServer, outTradeNo: string): Promise<Record<string, unknown> | undefined> {
  const rows = (await t.server.orm.em
    .fork()
    .getConnection()
    .execute('select * from orders where out_trade_no = ?', [outTradeNo])) as Record<string, unknown>[];
  return rows[0];
}

export async function notificationsFor(t: TestServer, outTradeNo: string | null) {
  const conn = t.server.orm.em.fork().getConnection();
  const rows = (
    outTradeNo === null
      ? await conn.execute('select * from payment_notifications where out_trade_no is null order by id')
      : await conn.execute('select * from payment_notifications where out_trade_no = ? order by id', [outTradeNo])
  ) as unknown;
  return rows as { verdict: string; raw_body: string; body_bytes: number; processed_at: unknown }[];
}

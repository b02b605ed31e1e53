import { randomBytes, randomInt } from 'node:crypto';
import type { SignType } from '../wechat/pay-sign';
import type { WireFault } from './pay-wire';

/**
 * A one-shot fault a test or developer arms for one openid (/dev/pay-fault), played at that openid's next
 * unifiedorder; its err_code e.g. NOTENOUGH, SYSTEMERROR, ORDERPAID.
 */
export interface PayFault extends WireFault {
  /** Answer after this many ms (a WeChat that is too slow); the order is still made, as WeChat got the request. */
  delayMs?: number;
  /** Answer a successful order with a wrong sign. */
  badSign?: boolean;
}

export type TradeState = 'NOTPAY' | 'SUCCESS' | 'CLOSED';

export interface SimOrder {
  outTradeNo: string;
  prepayId: string;
  prepayExpiresAt: number;
  openid: string;
  body: string;
  totalFee: number;
  notifyUrl: string;
  signType: SignType;
  tradeState: TradeState;
  transactionId?: string;
  /** yyyyMMddHHmmss, China time. */
  timeEnd?: string;
  /** When it was paid (ms): refunds are taken within a year of it. */
  paidAt?: number;
  notifyAttempts: number;
  /** Set for an order placed through the v3 JSON API (/v3/pay/transactions/jsapi): its pay sign and notify are v3's. */
  v3?: V3OrderInfo;
}

export interface V3OrderInfo {
  appid: string;
  /** RFC 3339, as sent. */
  timeExpire?: string;
}

export interface NewOrder {
  outTradeNo: string;
  openid: string;
  body: string;
  totalFee: number;
  notifyUrl: string;
  signType: SignType;
  v3?: V3OrderInfo;
}

/** WeChat keeps a prepay_id for 2 hours. */
export const PREPAY_TTL_MS = 2 * 60 * 60 * 1000;

/** In-memory state of the simulated WeChat Pay: orders by out_trade_no, and armed faults by openid. */
export class PayState {
  private orders = new Map<string, SimOrder>();
  private prepayIds = new Map<string, string>();
  private transactionIds = new Map<string, string>();
  private faults = new Map<string, PayFault>();

  constructor(private readonly now: () => number = Date.now) {}

  armFault(openid: string, fault: PayFault) {
    this.faults.set(openid, fault);
  }

  /** One-shot: the fault is gone once played. */
  takeFault(openid: string): PayFault | undefined {
    const fault = this.faults.get(openid);
    this.faults.delete(openid);
    return fault;
  }

  /**
   * WeChat answers a repeated out_trade_no with the same prepay_id when nothing changed, and refuses it when
   * something did, or when the order is already paid or closed.
   */
  placeOrder(
    input: NewOrder,
  ): { ok: true; order: SimOrder } | { ok: false; errCode: 'INVALID_REQUEST' | 'ORDERPAID' | 'ORDERCLOSED' } {
    const existing = this.orders.get(input.outTradeNo);
    if (existing) {
      if (existing.tradeState === 'SUCCESS') return { ok: false, errCode: 'ORDERPAID' };
      if (existing.tradeState === 'CLOSED') return { ok: false, errCode: 'ORDERCLOSED' };
      if (existing.totalFee !== input.totalFee || existing.body !== input.body)
        return { ok: false, errCode: 'INVALID_REQUEST' };
      if (existing.prepayExpiresAt <= this.now()) this.issuePrepayId(existing);
      return { ok: true, order: existing };
    }
    const order: SimOrder = { ...input, prepayId: '', prepayExpiresAt: 0, tradeState: 'NOTPAY', notifyAttempts: 0 };
    this.issuePrepayId(order);
    this.orders.set(order.outTradeNo, order);
    return { ok: true, order };
  }

  /** transaction_id wins over out_trade_no when both are given, as in WeChat's orderquery. */
  find(ids: { outTradeNo?: string; transactionId?: string }): SimOrder | undefined {
    const outTradeNo = ids.transactionId ? this.transactionIds.get(ids.transactionId) : ids.outTradeNo;
    return outTradeNo ? this.orders.get(outTradeNo) : undefined;
  }

  /** The order a live (unexpired) prepay_id belongs to. */
  byPrepayId(prepayId: string): SimOrder | undefined {
    const outTradeNo = this.prepayIds.get(prepayId);
    const order = outTradeNo ? this.orders.get(outTradeNo) : undefined;
    return order && order.prepayId === prepayId && order.prepayExpiresAt > this.now() ? order : undefined;
  }

  markPaid(order: SimOrder) {
    order.tradeState = 'SUCCESS';
    order.transactionId = newTransactionId();
    order.paidAt = this.now();
    order.timeEnd = chinaTime(order.paidAt);
    this.transactionIds.set(order.transactionId, order.outTradeNo);
  }

  markClosed(order: SimOrder) {
    order.tradeState = 'CLOSED';
  }

  private issuePrepayId(order: SimOrder) {
    order.prepayId = newPrepayId(this.now());
    order.prepayExpiresAt = this.now() + PREPAY_TTL_MS;
    this.prepayIds.set(order.prepayId, order.outTradeNo);
  }
}

/** yyyyMMddHHmmss in China time (UTC+8), whatever the host's zone: WeChat's time_end format. */
export function chinaTime(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().replace(/\D/g, '').slice(0, 14);
}

/** Looks like WeChat's: 'wx' + yyyyMMddHHmmss + 20 hex characters (36 in all). */
export function newPrepayId(now: number): string {
  return 'wx' + chinaTime(now) + randomBytes(10).toString('hex');
}

/** Looks like WeChat's: '4200' + 24 digits. */
export function newTransactionId(): string {
  let digits = '';
  for (let i = 0; i < 24; i++) digits += randomInt(10);
  return '4200' + digits;
}

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

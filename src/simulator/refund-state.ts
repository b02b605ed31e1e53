import { randomInt } from 'node:crypto';
import type { SignType } from '../wechat/pay-sign';
import type { PayState, SimOrder } from './pay-state';

/** refundquery's refund_status: PROCESSING until WeChat settles it as one of the other three. */
export type SimRefundStatus = 'PROCESSING' | 'SUCCESS' | 'REFUNDCLOSE' | 'CHANGE';
export type SettledStatus = Exclude<SimRefundStatus, 'PROCESSING'>;
export const SETTLED_STATUSES: readonly SettledStatus[] = ['SUCCESS', 'REFUNDCLOSE', 'CHANGE'];

export interface SimRefund {
  outRefundNo: string;
  refundId: string;
  outTradeNo: string;
  transactionId: string;
  totalFee: number;
  refundFee: number;
  refundDesc?: string;
  notifyUrl?: string;
  signType: SignType;
  status: SimRefundStatus;
  createdAt: number;
  /** `yyyy-MM-dd HH:mm:ss` China time, once SUCCESS. */
  successTime?: string;
  /** How it settles when its time comes (SUCCESS unless armed otherwise), and whether its notify is sent. */
  outcome: SettledStatus;
  deliver: boolean;
  /** Held back by /dev/refund-hold when its settle time came. */
  held: boolean;
  notifyAttempts: number;
  /** Made through /v3/refund/domestic/refunds: its notify is v3's (signed JSON, AEAD resource). */
  v3?: boolean;
}

/** WeChat's limits: 50 refunds per order, within a year of payment. */
export const MAX_REFUNDS_PER_ORDER = 50;
export const REFUND_WINDOW_MS = 365 * 24 * 3600_000;

export type RefundRefusal =
  | { returnFail: string }
  | {
      errCode:
        | 'ORDERNOTEXIST'
        | 'INVALID_TRANSACTIONID'
        | 'TRADE_OVERDUE'
        | 'REFUND_FEE_MISMATCH'
        | 'ERROR'
        | 'INVALID_REQUEST';
      des?: string;
    };

export interface RefundRequest {
  outTradeNo?: string;
  transactionId?: string;
  outRefundNo: string;
  totalFee: number;
  refundFee: number;
  refundDesc?: string;
  notifyUrl?: string;
  signType: SignType;
  v3?: boolean;
}

/**
 * The refund side of the simulated WeChat Pay's one ledger: refunds by out_refund_no and by order, next to PayState's
 * orders. Every rule WeChat applies at /secapi/pay/refund is decided here, in one synchronous step, so two concurrent
 * requests can never both pass the amount check.
 */
export class RefundLedger {
  private byOutRefundNo = new Map<string, SimRefund>();
  private byRefundId = new Map<string, SimRefund>();
  private byOrder = new Map<string, SimRefund[]>();

  constructor(
    private readonly orders: PayState,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * WeChat's order of checks, as its documented err_codes and captured answers show them: the order must exist and be
   * paid (an unpaid one is ORDERNOTEXIST), within a year, with the right total; a known out_refund_no answers its refund
   * again (REFUND_FEE_MISMATCH when the amounts differ); then the count and the amount left.
   */
  apply(
    req: RefundRequest,
    /** How a new refund will settle; asked only when one is made, so a refused or replayed request takes no plan. */
    plan: () => { outcome: SettledStatus; deliver: boolean },
  ): { ok: true; refund: SimRefund; order: SimOrder; created: boolean } | { ok: false; refusal: RefundRefusal } {
    if (req.refundFee > req.totalFee) return { ok: false, refusal: { returnFail: 'invalid refund_fee' } };
    const order = this.orders.find({ outTradeNo: req.outTradeNo, transactionId: req.transactionId });
    if (!order) {
      return {
        ok: false,
        refusal: req.transactionId ? { errCode: 'INVALID_TRANSACTIONID' } : { errCode: 'ORDERNOTEXIST' },
      };
    }
    if (order.tradeState !== 'SUCCESS' || !order.transactionId)
      return { ok: false, refusal: { errCode: 'ORDERNOTEXIST' } };
    if (this.now() - (order.paidAt ?? 0) > REFUND_WINDOW_MS)
      return { ok: false, refusal: { errCode: 'TRADE_OVERDUE' } };
    if (req.totalFee !== order.totalFee) return { ok: false, refusal: { errCode: 'REFUND_FEE_MISMATCH' } };

    const known = this.byOutRefundNo.get(req.outRefundNo);
    if (known) {
      if (known.outTradeNo !== order.outTradeNo) {
        return {
          ok: false,
          refusal: { errCode: 'INVALID_REQUEST', des: 'out_refund_no已用于其他订单' },
        };
      }
      if (known.refundFee !== req.refundFee) return { ok: false, refusal: { errCode: 'REFUND_FEE_MISMATCH' } };
      return { ok: true, refund: known, order, created: false };
    }

    const refunds = this.refundsOf(order.outTradeNo);
    const taken = refunds.filter((r) => r.status !== 'REFUNDCLOSE').reduce((sum, r) => sum + r.refundFee, 0);
    if (taken >= order.totalFee) return { ok: false, refusal: { errCode: 'ERROR', des: '订单已全额退款' } };
    if (refunds.length >= MAX_REFUNDS_PER_ORDER) {
      return { ok: false, refusal: { errCode: 'INVALID_REQUEST', des: '每个支付订单的部分退款次数不能超过50次' } };
    }
    if (taken + req.refundFee > order.totalFee) {
      return { ok: false, refusal: { errCode: 'INVALID_REQUEST', des: 'refund_fee大于可退金额' } };
    }

    const refund: SimRefund = {
      outRefundNo: req.outRefundNo,
      refundId: newRefundId(),
      outTradeNo: order.outTradeNo,
      transactionId: order.transactionId,
      totalFee: order.totalFee,
      refundFee: req.refundFee,
      refundDesc: req.refundDesc,
      notifyUrl: req.notifyUrl,
      signType: req.signType,
      status: 'PROCESSING',
      createdAt: this.now(),
      ...plan(),
      held: false,
      notifyAttempts: 0,
      ...(req.v3 ? { v3: true } : {}),
    };
    refunds.push(refund);
    this.byOrder.set(order.outTradeNo, refunds);
    this.byOutRefundNo.set(refund.outRefundNo, refund);
    this.byRefundId.set(refund.refundId, refund);
    return { ok: true, refund, order, created: true };
  }

  /** PROCESSING → a final status, once; false when it was settled already. */
  settle(refund: SimRefund, status: SettledStatus): boolean {
    if (refund.status !== 'PROCESSING') return false;
    refund.status = status;
    refund.held = false;
    if (status === 'SUCCESS') refund.successTime = chinaDateTime(this.now());
    return true;
  }

  find(outRefundNo: string): SimRefund | undefined {
    return this.byOutRefundNo.get(outRefundNo);
  }

  /** refundquery's priority: refund_id > out_refund_no > transaction_id > out_trade_no. */
  query(ids: {
    refundId?: string;
    outRefundNo?: string;
    transactionId?: string;
    outTradeNo?: string;
  }): { order: SimOrder; refunds: SimRefund[] } | undefined {
    const one = ids.refundId
      ? this.byRefundId.get(ids.refundId)
      : ids.outRefundNo
        ? this.byOutRefundNo.get(ids.outRefundNo)
        : undefined;
    if (ids.refundId || ids.outRefundNo) {
      const order = one && this.orders.find({ outTradeNo: one.outTradeNo });
      return one && order ? { order, refunds: [one] } : undefined;
    }
    const order = this.orders.find({ outTradeNo: ids.outTradeNo, transactionId: ids.transactionId });
    const refunds = order ? this.refundsOf(order.outTradeNo) : [];
    return order && refunds.length > 0 ? { order, refunds } : undefined;
  }

  refundsOf(outTradeNo: string): SimRefund[] {
    return this.byOrder.get(outTradeNo) ?? [];
  }

  /** orderquery says REFUND once a refund of the order succeeded. */
  hasSucceededRefund(outTradeNo: string): boolean {
    return this.refundsOf(outTradeNo).some((r) => r.status === 'SUCCESS');
  }

  /** Sum of the refunds that are not closed: what is no longer refundable. */
  refundedFee(outTradeNo: string): number {
    return this.refundsOf(outTradeNo)
      .filter((r) => r.status !== 'REFUNDCLOSE')
      .reduce((sum, r) => sum + r.refundFee, 0);
  }

  held(): SimRefund[] {
    return [...this.byOutRefundNo.values()].filter((r) => r.held && r.status === 'PROCESSING');
  }
}

/** `yyyy-MM-dd HH:mm:ss` in China time (UTC+8): the refund notify's and refundquery's success_time. */
export function chinaDateTime(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** Looks like WeChat's: '50300' + 24 digits (29 in all). */
export function newRefundId(): string {
  let digits = '';
  for (let i = 0; i < 24; i++) digits += randomInt(10);
  return '50300' + digits;
}

import { config } from '../../config';
import { describeAmountError, describeError, describeOverLimit } from '../../lib/messages';
import { fenToYuan, yuanToFen } from '../../lib/money';
import { isAmountRefused, loadMaxAmount, pay, refreshOrder, type Order, type PayResult } from '../../lib/payment';
import { hideLoading, showLoading, showToast } from '../../lib/ui';

interface ResultView {
  kind: PayResult['kind'];
  message: string;
  outTradeNo: string;
  status: string;
  /** '' until some refund succeeded, then e.g. 已退款 ¥1.00（共 ¥3.00）. */
  refunded: string;
  /** One line per refund, oldest first. */
  refunds: { outRefundNo: string; text: string }[];
}

/** A refund as the payer reads it (RefundStatus; CHANGE needs the merchant's hand in WeChat Pay). */
const REFUND_STATUS: Record<Order['refunds'][number]['status'], string> = {
  PROCESSING: '退款中',
  SUCCESS: '已退款',
  CLOSED: '未退款（已关闭）',
  CHANGE: '退款异常，请联系客服',
};

function describeResult(result: PayResult): ResultView {
  const { order } = result;
  const yuan = `¥${fenToYuan(order.amount)}`;
  const message = {
    paid: order.status === 'REFUNDED' ? `已全额退款：${yuan}` : `支付成功：${yuan}`,
    cancelled: `支付已取消，订单仍待支付（${yuan}）`,
    // WeChat's errMsg ("requestPayment:fail …") is for the log, not for the user.
    failed: `支付未完成（${yuan}），未扣款，请稍后重试`,
    unconfirmed: `暂未确认到账（${yuan}），请稍后在订单中查看`,
    closed: '订单已关闭，未扣款',
  }[result.kind];
  return {
    kind: result.kind,
    message,
    outTradeNo: order.outTradeNo,
    status: order.status,
    refunded:
      order.refundedAmount > 0 && order.status !== 'REFUNDED'
        ? `已退款 ¥${fenToYuan(order.refundedAmount)}（共 ${yuan}）`
        : '',
    refunds: order.refunds.map((r) => ({
      outRefundNo: r.outRefundNo,
      text: `退款 ¥${fenToYuan(r.amount)}：${REFUND_STATUS[r.status] ?? r.status}`,
    })),
  };
}

interface PayData {
  amount: string;
  error: string;
  paying: boolean;
  result: ResultView | null;
  /** The server's PAY_MAX_AMOUNT in fen, once paymentLimits answered; null until then (the server still checks). */
  maxAmount: number | null;
}

const data: PayData = { amount: '', error: '', paying: false, result: null, maxAmount: null };

Page({
  data,

  async onLoad() {
    await this.loadLimits();
  },

  /** The limit is a convenience for the message; when it cannot be read, createPayment's refusal reads it again. */
  async loadLimits(): Promise<number | null> {
    try {
      const maxAmount = await loadMaxAmount();
      this.setData({ maxAmount });
      return maxAmount;
    } catch (err) {
      console.warn('paymentLimits failed', err);
      return null;
    }
  },

  /** Back on the page (e.g. from the order's refund notice): a paid order's refunds may have changed since. */
  async onShow() {
    const shown = this.data.result;
    if (!shown || shown.kind !== 'paid') return;
    try {
      const order = await refreshOrder(shown.outTradeNo);
      // The user may have paid again (or typed a new amount) meanwhile: only the same order is redrawn.
      if (order && this.data.result?.outTradeNo === order.outTradeNo)
        this.setData({ result: describeResult({ kind: 'paid', order }) });
    } catch (err) {
      // The card still shows what was last known; the next onShow asks again.
      console.warn('order refresh failed', err);
    }
  },

  /** A new amount: the old error and the old result no longer describe what is on the screen. */
  onAmountInput(e: WechatMiniprogram.Input) {
    this.setData({ amount: e.detail.value, error: '', result: null });
  },

  async onPay() {
    if (this.data.paying) return;
    const parsed = yuanToFen(this.data.amount);
    const { maxAmount } = this.data;
    if (!parsed.ok)
      return this.setData({
        error:
          parsed.reason === 'TOO_LARGE' && maxAmount !== null
            ? describeOverLimit(maxAmount)
            : describeAmountError(parsed.reason),
      });
    if (maxAmount !== null && parsed.fen > maxAmount) return this.setData({ error: describeOverLimit(maxAmount) });
    this.setData({ paying: true, error: '', result: null });
    showLoading('支付中');
    try {
      const result = await pay(parsed.fen, {
        intervalMs: config.payPollIntervalMs,
        timeoutMs: config.payPollTimeoutMs,
      });
      if (result.kind === 'failed') console.warn('requestPayment failed', result.errMsg);
      this.setData({ result: describeResult(result) });
      hideLoading();
      if (result.kind === 'paid') showToast('支付成功', 'success');
    } catch (err) {
      hideLoading();
      const limit = isAmountRefused(err) ? await this.loadLimits() : null;
      this.setData({ error: limit !== null ? describeOverLimit(limit) : describeError(err) });
    } finally {
      this.setData({ paying: false });
    }
  },
});

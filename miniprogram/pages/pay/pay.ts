import { config } from '../../config';
import { describeAmountError, describeError } from '../../lib/messages';
import { fenToYuan, yuanToFen } from '../../lib/money';
import { pay, type PayResult } from '../../lib/payment';
import { hideLoading, showLoading, showToast } from '../../lib/ui';

interface ResultView {
  kind: PayResult['kind'];
  message: string;
  outTradeNo: string;
  status: string;
}

function describeResult(result: PayResult): ResultView {
  const { order } = result;
  const yuan = `¥${fenToYuan(order.amount)}`;
  const message = {
    paid: `支付成功：${yuan}`,
    cancelled: `支付已取消，订单仍待支付（${yuan}）`,
    failed: `支付未完成：${result.kind === 'failed' ? result.errMsg : ''}`,
    unconfirmed: `暂未确认到账（${yuan}），请稍后在订单中查看`,
    closed: '订单已关闭，未扣款',
  }[result.kind];
  return { kind: result.kind, message, outTradeNo: order.outTradeNo, status: order.status };
}

Page({
  data: {
    amount: '',
    error: '',
    paying: false,
    result: null as ResultView | null,
  },

  onAmountInput(e: WechatMiniprogram.Input) {
    this.setData({ amount: e.detail.value, error: '' });
  },

  async onPay() {
    if (this.data.paying) return;
    const parsed = yuanToFen(this.data.amount);
    if (!parsed.ok) return this.setData({ error: describeAmountError(parsed.reason) });
    this.setData({ paying: true, error: '', result: null });
    showLoading('支付中');
    try {
      const result = await pay(parsed.fen, {
        intervalMs: config.payPollIntervalMs,
        timeoutMs: config.payPollTimeoutMs,
      });
      this.setData({ result: describeResult(result) });
      hideLoading();
      if (result.kind === 'paid') showToast('支付成功', 'success');
    } catch (err) {
      hideLoading();
      this.setData({ error: describeError(err) });
    } finally {
      this.setData({ paying: false });
    }
  },
});

import { ApiError } from './graphql';
import type { FenParse } from './money';
import { WxError } from './http';

const BY_CODE: Record<string, string> = {
  NETWORK_ERROR: '网络不可用，请稍后重试',
  SERVICE_UNAVAILABLE: '服务繁忙，请稍后重试',
  WECHAT_UNAVAILABLE: '微信服务繁忙，请稍后重试',
  WECHAT_RATE_LIMITED: '操作太频繁，请稍后重试',
  WECHAT_RISKY_USER: '当前微信账号暂时无法登录',
  WECHAT_CODE_INVALID: '登录凭证已失效，请重试',
  WECHAT_DECRYPT_FAILED: '资料校验失败，请重试',
  UNAUTHENTICATED: '登录已失效，请重新登录',
  PAYMENTS_DISABLED: '暂未开通支付',
  BAD_USER_INPUT: '输入有误',
};

/** Text for the user; the code stays in the log. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'PAYMENT_FAILED') return `支付下单失败：${String(err.extensions.wechatErrMsg ?? err.message)}`;
    return BY_CODE[err.code] ?? '出错了，请稍后重试';
  }
  if (err instanceof WxError) return `微信接口失败：${err.errMsg}`;
  return '出错了，请稍后重试';
}

export function describeAmountError(reason: Extract<FenParse, { ok: false }>['reason']): string {
  switch (reason) {
    case 'EMPTY':
      return '请输入金额';
    case 'INVALID':
      return '金额格式不对，例如 12.30';
    case 'TOO_MANY_DECIMALS':
      return '金额最多两位小数';
    case 'ZERO':
      return '金额须大于 0';
    case 'TOO_LARGE':
      return '金额过大';
  }
}

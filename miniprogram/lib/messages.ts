import { ApiError, type ErrorCode } from './graphql';
import { fenToYuan, type FenParse } from './money';
import { WxError } from './http';

/**
 * What the user reads for each code, the server's and the client's own: a code the schema adds fails the typecheck
 * here until it has a text. Codes that only a bug or an outdated package can cause ask for an update.
 */
export const MESSAGES: Record<ErrorCode, string> = {
  NETWORK_ERROR: '网络不可用，请稍后重试',
  BAD_RESPONSE: '服务异常，请稍后重试',
  SERVICE_UNAVAILABLE: '服务繁忙，请稍后重试',
  INTERNAL_SERVER_ERROR: '出错了，请稍后重试',
  WECHAT_UNAVAILABLE: '微信服务繁忙，请稍后重试',
  WECHAT_RATE_LIMITED: '操作太频繁，请稍后重试',
  RATE_LIMITED: '操作太频繁，请稍后重试',
  WECHAT_RISKY_USER: '当前微信账号暂时无法登录',
  WECHAT_CODE_INVALID: '登录凭证已失效，请重试',
  WECHAT_DECRYPT_FAILED: '资料校验失败，请重试',
  CONTENT_RISKY: '内容未通过微信安全检测，请修改后重试',
  UNAUTHENTICATED: '登录已失效，请重新登录',
  PAYMENTS_DISABLED: '暂未开通支付',
  FORBIDDEN: '没有权限进行此操作',
  ORDER_NOT_PAID: '订单尚未支付，无法退款',
  REFUND_EXCEEDS_PAID: '退款金额超过订单可退金额',
  REFUND_FAILED: '退款失败，款项未退回，请稍后重试',
  REFUNDS_DISABLED: '暂未开通退款',
  PAYMENT_FAILED: '支付下单失败，请稍后重试',
  AVATAR_REVIEW_DISABLED: '暂不支持更换头像',
  AVATAR_TOO_LARGE: '图片太大，请换一张较小的图片',
  AVATAR_UNSUPPORTED_TYPE: '仅支持 JPG、PNG 或 WebP 图片',
  BAD_USER_INPUT: '输入有误',
  BATCH_TOO_LARGE: '请求过多，请稍后重试',
  PERSISTED_QUERY_NOT_FOUND: '请求已过期，请重试',
  QUERY_TOO_COMPLEX: '请求内容过多，请更新小程序后重试',
  GRAPHQL_PARSE_FAILED: '请求有误，请更新小程序后重试',
  GRAPHQL_VALIDATION_FAILED: '小程序版本过旧，请更新后重试',
  OPERATION_RESOLUTION_FAILURE: '请求有误，请更新小程序后重试',
  BAD_REQUEST: '请求有误，请更新小程序后重试',
};

/** Text for the user; the code stays in the log. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'PAYMENT_FAILED' && err.extensions.wechatErrMsg)
      return `支付下单失败：${err.extensions.wechatErrMsg}`;
    if (err.code === 'CONTENT_RISKY') return describeRisky(err.extensions.label);
    const { maxBytes } = err.extensions;
    if (err.code === 'AVATAR_TOO_LARGE' && typeof maxBytes === 'number' && maxBytes > 0)
      return `图片太大，请换一张不超过 ${formatBytes(maxBytes)} 的图片`;
    const wait = err.extensions.retryAfterSeconds;
    if (err.code === 'RATE_LIMITED' && typeof wait === 'number' && wait > 0) return `操作太频繁，请 ${wait} 秒后重试`;
    // A server newer than this package may send a code it does not know yet.
    return MESSAGES[err.code] ?? MESSAGES.INTERNAL_SERVER_ERROR;
  }
  if (err instanceof WxError) return `微信接口失败：${err.errMsg}`;
  return MESSAGES.INTERNAL_SERVER_ERROR;
}

/** WeChat's content-check labels (msg_sec_check and media_check_async share them). */
const RISK_LABELS: Record<number, string> = {
  10001: '广告',
  20001: '时政',
  20002: '色情',
  20003: '辱骂',
  20006: '违法犯罪',
  20008: '欺诈',
  20012: '低俗',
  20013: '版权',
};

/** CONTENT_RISKY, with what WeChat's check saw when it says (extensions.label). */
export function describeRisky(label: unknown): string {
  const reason = typeof label === 'number' ? RISK_LABELS[label] : undefined;
  return reason ? `内容未通过微信安全检测（疑似${reason}），请修改后重试` : MESSAGES.CONTENT_RISKY;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${+(bytes / (1024 * 1024)).toFixed(1)} MB`;
  if (bytes >= 1024) return `${+(bytes / 1024).toFixed(1)} KB`;
  return `${bytes} 字节`;
}

/** An amount past the server's PAY_MAX_AMOUNT, in yuan. */
export function describeOverLimit(maxFen: number): string {
  return `金额不能超过 ¥${fenToYuan(maxFen)}`;
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

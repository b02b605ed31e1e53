/**
 * The one error type. Every failure a client may see is an AppError with a stable code;
 * the GraphQL layer maps it to `extensions.code` in one place (core/graphql.ts).
 * Messages must never carry a secret (session_key, token, pay key).
 */
export const ERROR_CODES = {
  BAD_USER_INPUT: 'The input is malformed.',
  UNAUTHENTICATED: 'Missing, unknown, expired or revoked token: call wx.login and log in again.',
  WECHAT_CODE_INVALID: 'The login code is invalid, expired or already used: call wx.login for a new one.',
  WECHAT_RATE_LIMITED: 'WeChat rate-limited this login: retry later.',
  WECHAT_RISKY_USER: 'WeChat blocked this login for a high-risk user.',
  WECHAT_UNAVAILABLE: 'WeChat did not answer usably: retry later.',
  WECHAT_DECRYPT_FAILED:
    'The encrypted data could not be verified with this session: call wx.login, log in again and retry with fresh data.',
  PAYMENT_FAILED: 'WeChat Pay refused the order; see extensions.wechatErrCode.',
  PAYMENTS_DISABLED: 'Payments are not configured on this server.',
  RATE_LIMITED: 'Too many attempts: retry after extensions.retryAfterSeconds.',
  SERVICE_UNAVAILABLE: 'A backing service is unavailable: retry later.',
  INTERNAL_SERVER_ERROR: 'Internal server error.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string = ERROR_CODES[code],
    /** Safe extra fields for `extensions` (never secrets). */
    readonly extensions: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AppError';
  }
}

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

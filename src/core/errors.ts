/**
 * Every code a client can receive in `errors[].extensions.code`, with what it means: the one list. The schema's
 * ErrorCode enum is built from it (core/error.type.ts), the mini-program's type is generated from the schema, and
 * test/unit/error-codes.test.ts holds the README table and the mini-program's messages to it.
 *
 * The first group are AppErrors, which the GraphQL layer maps to `extensions.code` in one place (core/graphql.ts);
 * each text is also the error's default message. Messages must never carry a secret (session_key, token, pay key).
 */
export const ERROR_CODES = {
  BAD_USER_INPUT: 'The input is malformed.',
  UNAUTHENTICATED: 'Missing, unknown, expired or revoked token: call wx.login and log in again.',
  WECHAT_CODE_INVALID: 'The login code is invalid, expired or already used: call wx.login for a new one.',
  WECHAT_RATE_LIMITED: 'WeChat rate-limited this login: retry later.',
  WECHAT_RISKY_USER: 'WeChat blocked this login for a high-risk user.',
  WECHAT_UNAVAILABLE: 'WeChat did not answer usably: retry later.',
  CONTENT_RISKY: "WeChat's content check refused this text: change it and try again.",
  WECHAT_DECRYPT_FAILED:
    'The encrypted data could not be verified with this session: call wx.login, log in again and retry with fresh data.',
  PAYMENT_FAILED: 'WeChat Pay refused the order; see extensions.wechatErrCode.',
  PAYMENTS_DISABLED: 'Payments are not configured on this server.',
  FORBIDDEN: 'This operation is for operators (an ADMIN token), not for users.',
  ORDER_NOT_PAID: 'The order is not paid (PENDING or CLOSED): there is nothing to refund.',
  REFUND_EXCEEDS_PAID:
    'The refund would take the order past its amount (every refund that is not CLOSED counts): refund less.',
  REFUND_FAILED: 'WeChat Pay refused the refund; see extensions.wechatErrCode. Nothing was refunded.',
  REFUNDS_DISABLED:
    "Refunds are not configured on this server: they need the merchant's API certificate (WECHAT_PAY_CERT_PEM, WECHAT_PAY_KEY_PEM).",
  AVATAR_TOO_LARGE: 'The image is over AVATAR_MAX_BYTES: send a smaller one (HTTP 413).',
  AVATAR_UNSUPPORTED_TYPE:
    'The file is not a JPEG, PNG or WebP image, judged by its bytes (not its name or declared type) (HTTP 415).',
  AVATAR_REVIEW_DISABLED:
    "Avatars cannot be set on this server: WeChat's image check reports to the message push URL, and WECHAT_PUSH_TOKEN is not configured.",
  RATE_LIMITED: 'Too many attempts: retry after extensions.retryAfterSeconds.',
  SERVICE_UNAVAILABLE: 'A backing service is unavailable: retry later.',
  INTERNAL_SERVER_ERROR: 'Internal server error.',
  // Answered before any resolver runs, by Apollo or by our request limits, with their own message; nothing ran.
  BAD_REQUEST:
    'Not a GraphQL request (no query, or a body that is not one), a mutation over GET, or a GET or form POST without a preflight header (CSRF prevention).',
  GRAPHQL_PARSE_FAILED: 'The document does not parse, or holds more than GRAPHQL_MAX_TOKENS tokens.',
  GRAPHQL_VALIDATION_FAILED:
    'The document does not validate against this schema (an unknown field or argument, a wrong type).',
  OPERATION_RESOLUTION_FAILURE:
    'operationName names no operation of the document, or the document holds several and names none.',
  PERSISTED_QUERY_NOT_FOUND:
    'An automatic persisted query whose hash this server does not hold: send it again with the query text.',
  QUERY_TOO_COMPLEX: "The operation is deeper, more aliased or costlier than the server's limits: ask for less.",
  BATCH_TOO_LARGE: 'A batched request holds more than GRAPHQL_MAX_BATCH operations: split it.',
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

/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** WeChat's image check (media_check_async) of the avatar last submitted with setProfile: the result is pushed to this server's /wechat/push within minutes (WeChat allows up to 30). */
export type AvatarReview =
  /** WeChat passed it: it is User.avatarUrl now. */
  | 'PASSED'
  /** Submitted, no result yet: User.avatarUrl still shows the previous avatar. */
  | 'PENDING'
  /** WeChat did not pass it (risky, or held for review): it is never shown, and User.avatarUrl keeps the previous avatar. Upload another. */
  | 'REJECTED';

/** Every code this server answers in errors[].extensions.code. Branch on the code, never on the message. See ErrorExtensions for the fields some codes add. */
export type ErrorCode =
  /** Avatars cannot be set on this server: WeChat's image check reports to the message push URL, and WECHAT_PUSH_TOKEN is not configured. */
  | 'AVATAR_REVIEW_DISABLED'
  /** The image is over AVATAR_MAX_BYTES: send a smaller one (HTTP 413). */
  | 'AVATAR_TOO_LARGE'
  /** The file is not a JPEG, PNG or WebP image, judged by its bytes (not its name or declared type) (HTTP 415). */
  | 'AVATAR_UNSUPPORTED_TYPE'
  /** Not a GraphQL request (no query, or a body that is not one), a mutation over GET, or a GET or form POST without a preflight header (CSRF prevention). */
  | 'BAD_REQUEST'
  /** The input is malformed. */
  | 'BAD_USER_INPUT'
  /** A batched request holds more than GRAPHQL_MAX_BATCH operations: split it. */
  | 'BATCH_TOO_LARGE'
  /** WeChat's content check refused this text: change it and try again. */
  | 'CONTENT_RISKY'
  /** This operation is for operators (an ADMIN token), not for users. */
  | 'FORBIDDEN'
  /** The document does not parse, or holds more than GRAPHQL_MAX_TOKENS tokens. */
  | 'GRAPHQL_PARSE_FAILED'
  /** The document does not validate against this schema (an unknown field or argument, a wrong type). */
  | 'GRAPHQL_VALIDATION_FAILED'
  /** Internal server error. */
  | 'INTERNAL_SERVER_ERROR'
  /** operationName names no operation of the document, or the document holds several and names none. */
  | 'OPERATION_RESOLUTION_FAILURE'
  /** The order is not paid (PENDING or CLOSED): there is nothing to refund. */
  | 'ORDER_NOT_PAID'
  /** Payments are not configured on this server. */
  | 'PAYMENTS_DISABLED'
  /** WeChat Pay refused the order; see extensions.wechatErrCode. */
  | 'PAYMENT_FAILED'
  /** An automatic persisted query whose hash this server does not hold: send it again with the query text. */
  | 'PERSISTED_QUERY_NOT_FOUND'
  /** The operation is deeper, more aliased or costlier than the server's limits: ask for less. */
  | 'QUERY_TOO_COMPLEX'
  /** Too many attempts: retry after extensions.retryAfterSeconds. */
  | 'RATE_LIMITED'
  /** Refunds are not configured on this server: they need the merchant's API certificate (WECHAT_PAY_CERT_PEM, WECHAT_PAY_KEY_PEM). */
  | 'REFUNDS_DISABLED'
  /** The refund would take the order past its amount (every refund that is not CLOSED counts): refund less. */
  | 'REFUND_EXCEEDS_PAID'
  /** WeChat Pay refused the refund; see extensions.wechatErrCode. Nothing was refunded. */
  | 'REFUND_FAILED'
  /** A backing service is unavailable: retry later. */
  | 'SERVICE_UNAVAILABLE'
  /** Missing, unknown, expired or revoked token: call wx.login and log in again. */
  | 'UNAUTHENTICATED'
  /** The login code is invalid, expired or already used: call wx.login for a new one. */
  | 'WECHAT_CODE_INVALID'
  /** The encrypted data could not be verified with this session: call wx.login, log in again and retry with fresh data. */
  | 'WECHAT_DECRYPT_FAILED'
  /** WeChat rate-limited this login: retry later. */
  | 'WECHAT_RATE_LIMITED'
  /** WeChat blocked this login for a high-risk user. */
  | 'WECHAT_RISKY_USER'
  /** WeChat did not answer usably: retry later. */
  | 'WECHAT_UNAVAILABLE';

/** PENDING until WeChat confirms payment; PAID exactly once; CLOSED when it can no longer be paid (final); REFUNDED once successful refunds reach the amount (final). */
export type OrderStatus =
  /** Can no longer be paid: WeChat refused or could not create the prepay order (createPayment failed), WeChat reports it closed or revoked, or nobody paid it within PAY_ORDER_TTL_SECONDS (closed at WeChat too). Final: create a new payment to retry. */
  | 'CLOSED'
  /** WeChat confirmed the payment of exactly `amount` (by a signed notify or orderquery); transactionId and paidAt are set. Partial refunds leave it PAID (see refundedAmount). */
  | 'PAID'
  /** Created and not known to be paid: wx.requestPayment may still pay it. After paying, order(refresh: true) asks WeChat if the notify is late. */
  | 'PENDING'
  /** Paid, then refunded in full: the successful refunds add up to `amount`. Final. */
  | 'REFUNDED';

/** Where a refund stands, as WeChat Pay's refund result and refundquery report it. */
export type RefundStatus =
  /** WeChat could not pay it out (the payer's account is closed or frozen): the amount stays reserved; settle it by hand in WeChat Pay's merchant platform. */
  | 'CHANGE'
  /** Nothing was refunded (WeChat refused or closed it, or could not be reached): its amount is released. Retrying with the same outRefundNo and amount sends it again. */
  | 'CLOSED'
  /** Reserved against the order and accepted by WeChat Pay (or being sent): the money is on its way. Counts toward the order amount. */
  | 'PROCESSING'
  /** The money reached the payer (WeChat's refund notify or refundquery said so). Final. */
  | 'SUCCESS';

export type BindPhoneNumberMutationVariables = Exact<{
  code: string;
}>;


export type BindPhoneNumberMutation = { bindPhoneNumber: { id: string, openid: string, nickname: string | null, avatarUrl: string | null, avatarReview: AvatarReview | null, gender: number | null, language: string | null, city: string | null, province: string | null, country: string | null, phoneNumber: string | null, phoneCountryCode: string | null, updatedAt: string } };

export type CreatePaymentMutationVariables = Exact<{
  money: number;
}>;


export type CreatePaymentMutation = { createPayment: { order: { id: string, outTradeNo: string, amount: number, status: OrderStatus, transactionId: string | null, paidAt: string | null, refundedAmount: number, refunds: Array<{ outRefundNo: string, amount: number, status: RefundStatus, succeededAt: string | null }> }, payParams: { timeStamp: string, nonceStr: string, package: string, signType: string, paySign: string } } };

export type ErrorExtensionsFieldsFragment = { code: ErrorCode, retryAfterSeconds: number | null, field: string | null, api: string | null, wechatErrCode: string | null, wechatErrMsg: string | null };

export type LoginMutationVariables = Exact<{
  code: string;
}>;


export type LoginMutation = { login: { token: string, expiresAt: string, user: { id: string, openid: string } } };

export type MeQueryVariables = Exact<{ [key: string]: never; }>;


export type MeQuery = { me: { id: string, openid: string, nickname: string | null, avatarUrl: string | null, avatarReview: AvatarReview | null, gender: number | null, language: string | null, city: string | null, province: string | null, country: string | null, phoneNumber: string | null, phoneCountryCode: string | null, updatedAt: string } };

export type OrderFieldsFragment = { id: string, outTradeNo: string, amount: number, status: OrderStatus, transactionId: string | null, paidAt: string | null, refundedAmount: number, refunds: Array<{ outRefundNo: string, amount: number, status: RefundStatus, succeededAt: string | null }> };

export type OrderQueryVariables = Exact<{
  outTradeNo: string;
  refresh?: boolean | null | undefined;
}>;


export type OrderQuery = { order: { id: string, outTradeNo: string, amount: number, status: OrderStatus, transactionId: string | null, paidAt: string | null, refundedAmount: number, refunds: Array<{ outRefundNo: string, amount: number, status: RefundStatus, succeededAt: string | null }> } | null };

export type PaymentLimitsQueryVariables = Exact<{ [key: string]: never; }>;


export type PaymentLimitsQuery = { paymentLimits: { maxAmount: number } };

export type SetProfileMutationVariables = Exact<{
  nickname?: string | null | undefined;
  avatarUrl?: string | null | undefined;
}>;


export type SetProfileMutation = { setProfile: { id: string, openid: string, nickname: string | null, avatarUrl: string | null, avatarReview: AvatarReview | null, gender: number | null, language: string | null, city: string | null, province: string | null, country: string | null, phoneNumber: string | null, phoneCountryCode: string | null, updatedAt: string } };

export type UpdateProfileMutationVariables = Exact<{
  encryptedData: string;
  iv: string;
}>;


export type UpdateProfileMutation = { updateProfile: { id: string, openid: string, nickname: string | null, avatarUrl: string | null, avatarReview: AvatarReview | null, gender: number | null, language: string | null, city: string | null, province: string | null, country: string | null, phoneNumber: string | null, phoneCountryCode: string | null, updatedAt: string } };

export type UserFieldsFragment = { id: string, openid: string, nickname: string | null, avatarUrl: string | null, avatarReview: AvatarReview | null, gender: number | null, language: string | null, city: string | null, province: string | null, country: string | null, phoneNumber: string | null, phoneCountryCode: string | null, updatedAt: string };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const ErrorExtensionsFieldsFragmentDoc = new TypedDocumentString(`
    fragment ErrorExtensionsFields on ErrorExtensions {
  code
  retryAfterSeconds
  field
  api
  wechatErrCode
  wechatErrMsg
}
    `, {"fragmentName":"ErrorExtensionsFields"}) as unknown as TypedDocumentString<ErrorExtensionsFieldsFragment, unknown>;
export const OrderFieldsFragmentDoc = new TypedDocumentString(`
    fragment OrderFields on Order {
  id
  outTradeNo
  amount
  status
  transactionId
  paidAt
  refundedAmount
  refunds {
    outRefundNo
    amount
    status
    succeededAt
  }
}
    `, {"fragmentName":"OrderFields"}) as unknown as TypedDocumentString<OrderFieldsFragment, unknown>;
export const UserFieldsFragmentDoc = new TypedDocumentString(`
    fragment UserFields on User {
  id
  openid
  nickname
  avatarUrl
  avatarReview
  gender
  language
  city
  province
  country
  phoneNumber
  phoneCountryCode
  updatedAt
}
    `, {"fragmentName":"UserFields"}) as unknown as TypedDocumentString<UserFieldsFragment, unknown>;
export const BindPhoneNumberDocument = new TypedDocumentString(`
    mutation BindPhoneNumber($code: String!) {
  bindPhoneNumber(code: $code) {
    ...UserFields
  }
}
    fragment UserFields on User {
  id
  openid
  nickname
  avatarUrl
  avatarReview
  gender
  language
  city
  province
  country
  phoneNumber
  phoneCountryCode
  updatedAt
}`) as unknown as TypedDocumentString<BindPhoneNumberMutation, BindPhoneNumberMutationVariables>;
export const CreatePaymentDocument = new TypedDocumentString(`
    mutation CreatePayment($money: Int!) {
  createPayment(money: $money) {
    order {
      ...OrderFields
    }
    payParams {
      timeStamp
      nonceStr
      package
      signType
      paySign
    }
  }
}
    fragment OrderFields on Order {
  id
  outTradeNo
  amount
  status
  transactionId
  paidAt
  refundedAmount
  refunds {
    outRefundNo
    amount
    status
    succeededAt
  }
}`) as unknown as TypedDocumentString<CreatePaymentMutation, CreatePaymentMutationVariables>;
export const LoginDocument = new TypedDocumentString(`
    mutation Login($code: String!) {
  login(code: $code) {
    token
    expiresAt
    user {
      id
      openid
    }
  }
}
    `) as unknown as TypedDocumentString<LoginMutation, LoginMutationVariables>;
export const MeDocument = new TypedDocumentString(`
    query Me {
  me {
    ...UserFields
  }
}
    fragment UserFields on User {
  id
  openid
  nickname
  avatarUrl
  avatarReview
  gender
  language
  city
  province
  country
  phoneNumber
  phoneCountryCode
  updatedAt
}`) as unknown as TypedDocumentString<MeQuery, MeQueryVariables>;
export const OrderDocument = new TypedDocumentString(`
    query Order($outTradeNo: String!, $refresh: Boolean) {
  order(outTradeNo: $outTradeNo, refresh: $refresh) {
    ...OrderFields
  }
}
    fragment OrderFields on Order {
  id
  outTradeNo
  amount
  status
  transactionId
  paidAt
  refundedAmount
  refunds {
    outRefundNo
    amount
    status
    succeededAt
  }
}`) as unknown as TypedDocumentString<OrderQuery, OrderQueryVariables>;
export const PaymentLimitsDocument = new TypedDocumentString(`
    query PaymentLimits {
  paymentLimits {
    maxAmount
  }
}
    `) as unknown as TypedDocumentString<PaymentLimitsQuery, PaymentLimitsQueryVariables>;
export const SetProfileDocument = new TypedDocumentString(`
    mutation SetProfile($nickname: String, $avatarUrl: String) {
  setProfile(nickname: $nickname, avatarUrl: $avatarUrl) {
    ...UserFields
  }
}
    fragment UserFields on User {
  id
  openid
  nickname
  avatarUrl
  avatarReview
  gender
  language
  city
  province
  country
  phoneNumber
  phoneCountryCode
  updatedAt
}`) as unknown as TypedDocumentString<SetProfileMutation, SetProfileMutationVariables>;
export const UpdateProfileDocument = new TypedDocumentString(`
    mutation UpdateProfile($encryptedData: String!, $iv: String!) {
  updateProfile(encryptedData: $encryptedData, iv: $iv) {
    ...UserFields
  }
}
    fragment UserFields on User {
  id
  openid
  nickname
  avatarUrl
  avatarReview
  gender
  language
  city
  province
  country
  phoneNumber
  phoneCountryCode
  updatedAt
}`) as unknown as TypedDocumentString<UpdateProfileMutation, UpdateProfileMutationVariables>;
/* eslint-disable */
import * as types from './graphql';



/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "mutation BindPhoneNumber($code: String!) {\n  bindPhoneNumber(code: $code) {\n    ...UserFields\n  }\n}": typeof types.BindPhoneNumberDocument,
    "mutation CreatePayment($money: Int!) {\n  createPayment(money: $money) {\n    order {\n      ...OrderFields\n    }\n    payParams {\n      timeStamp\n      nonceStr\n      package\n      signType\n      paySign\n    }\n  }\n}": typeof types.CreatePaymentDocument,
    "fragment ErrorExtensionsFields on ErrorExtensions {\n  code\n  retryAfterSeconds\n  field\n  api\n  wechatErrCode\n  wechatErrMsg\n}": typeof types.ErrorExtensionsFieldsFragmentDoc,
    "mutation Login($code: String!) {\n  login(code: $code) {\n    token\n    expiresAt\n    user {\n      id\n      openid\n    }\n  }\n}": typeof types.LoginDocument,
    "query Me {\n  me {\n    ...UserFields\n  }\n}": typeof types.MeDocument,
    "fragment OrderFields on Order {\n  id\n  outTradeNo\n  amount\n  status\n  transactionId\n  paidAt\n  refundedAmount\n  refunds {\n    outRefundNo\n    amount\n    status\n    succeededAt\n  }\n}": typeof types.OrderFieldsFragmentDoc,
    "query Order($outTradeNo: String!, $refresh: Boolean) {\n  order(outTradeNo: $outTradeNo, refresh: $refresh) {\n    ...OrderFields\n  }\n}": typeof types.OrderDocument,
    "query PaymentLimits {\n  paymentLimits {\n    maxAmount\n  }\n}": typeof types.PaymentLimitsDocument,
    "mutation SetProfile($nickname: String, $avatarUrl: String) {\n  setProfile(nickname: $nickname, avatarUrl: $avatarUrl) {\n    ...UserFields\n  }\n}": typeof types.SetProfileDocument,
    "mutation UpdateProfile($encryptedData: String!, $iv: String!) {\n  updateProfile(encryptedData: $encryptedData, iv: $iv) {\n    ...UserFields\n  }\n}": typeof types.UpdateProfileDocument,
    "fragment UserFields on User {\n  id\n  openid\n  nickname\n  avatarUrl\n  avatarReview\n  gender\n  language\n  city\n  province\n  country\n  phoneNumber\n  phoneCountryCode\n  updatedAt\n}": typeof types.UserFieldsFragmentDoc,
};
const documents: Documents = {
    "mutation BindPhoneNumber($code: String!) {\n  bindPhoneNumber(code: $code) {\n    ...UserFields\n  }\n}": types.BindPhoneNumberDocument,
    "mutation CreatePayment($money: Int!) {\n  createPayment(money: $money) {\n    order {\n      ...OrderFields\n    }\n    payParams {\n      timeStamp\n      nonceStr\n      package\n      signType\n      paySign\n    }\n  }\n}": types.CreatePaymentDocument,
    "fragment ErrorExtensionsFields on ErrorExtensions {\n  code\n  retryAfterSeconds\n  field\n  api\n  wechatErrCode\n  wechatErrMsg\n}": types.ErrorExtensionsFieldsFragmentDoc,
    "mutation Login($code: String!) {\n  login(code: $code) {\n    token\n    expiresAt\n    user {\n      id\n      openid\n    }\n  }\n}": types.LoginDocument,
    "query Me {\n  me {\n    ...UserFields\n  }\n}": types.MeDocument,
    "fragment OrderFields on Order {\n  id\n  outTradeNo\n  amount\n  status\n  transactionId\n  paidAt\n  refundedAmount\n  refunds {\n    outRefundNo\n    amount\n    status\n    succeededAt\n  }\n}": types.OrderFieldsFragmentDoc,
    "query Order($outTradeNo: String!, $refresh: Boolean) {\n  order(outTradeNo: $outTradeNo, refresh: $refresh) {\n    ...OrderFields\n  }\n}": types.OrderDocument,
    "query PaymentLimits {\n  paymentLimits {\n    maxAmount\n  }\n}": types.PaymentLimitsDocument,
    "mutation SetProfile($nickname: String, $avatarUrl: String) {\n  setProfile(nickname: $nickname, avatarUrl: $avatarUrl) {\n    ...UserFields\n  }\n}": types.SetProfileDocument,
    "mutation UpdateProfile($encryptedData: String!, $iv: String!) {\n  updateProfile(encryptedData: $encryptedData, iv: $iv) {\n    ...UserFields\n  }\n}": types.UpdateProfileDocument,
    "fragment UserFields on User {\n  id\n  openid\n  nickname\n  avatarUrl\n  avatarReview\n  gender\n  language\n  city\n  province\n  country\n  phoneNumber\n  phoneCountryCode\n  updatedAt\n}": types.UserFieldsFragmentDoc,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation BindPhoneNumber($code: String!) {\n  bindPhoneNumber(code: $code) {\n    ...UserFields\n  }\n}"): typeof import('./graphql').BindPhoneNumberDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation CreatePayment($money: Int!) {\n  createPayment(money: $money) {\n    order {\n      ...OrderFields\n    }\n    payParams {\n      timeStamp\n      nonceStr\n      package\n      signType\n      paySign\n    }\n  }\n}"): typeof import('./graphql').CreatePaymentDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment ErrorExtensionsFields on ErrorExtensions {\n  code\n  retryAfterSeconds\n  field\n  api\n  wechatErrCode\n  wechatErrMsg\n}"): typeof import('./graphql').ErrorExtensionsFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation Login($code: String!) {\n  login(code: $code) {\n    token\n    expiresAt\n    user {\n      id\n      openid\n    }\n  }\n}"): typeof import('./graphql').LoginDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Me {\n  me {\n    ...UserFields\n  }\n}"): typeof import('./graphql').MeDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment OrderFields on Order {\n  id\n  outTradeNo\n  amount\n  status\n  transactionId\n  paidAt\n  refundedAmount\n  refunds {\n    outRefundNo\n    amount\n    status\n    succeededAt\n  }\n}"): typeof import('./graphql').OrderFieldsFragmentDoc;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query Order($outTradeNo: String!, $refresh: Boolean) {\n  order(outTradeNo: $outTradeNo, refresh: $refresh) {\n    ...OrderFields\n  }\n}"): typeof import('./graphql').OrderDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query PaymentLimits {\n  paymentLimits {\n    maxAmount\n  }\n}"): typeof import('./graphql').PaymentLimitsDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation SetProfile($nickname: String, $avatarUrl: String) {\n  setProfile(nickname: $nickname, avatarUrl: $avatarUrl) {\n    ...UserFields\n  }\n}"): typeof import('./graphql').SetProfileDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "mutation UpdateProfile($encryptedData: String!, $iv: String!) {\n  updateProfile(encryptedData: $encryptedData, iv: $iv) {\n    ...UserFields\n  }\n}"): typeof import('./graphql').UpdateProfileDocument;
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "fragment UserFields on User {\n  id\n  openid\n  nickname\n  avatarUrl\n  avatarReview\n  gender\n  language\n  city\n  province\n  country\n  phoneNumber\n  phoneCountryCode\n  updatedAt\n}"): typeof import('./graphql').UserFieldsFragmentDoc;


export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** PENDING until WeChat confirms payment; PAID exactly once; CLOSED when it can no longer be paid. PAID and CLOSED are final. */
export type OrderStatus =
  /** Can no longer be paid: WeChat refused or could not create the prepay order (createPayment failed), or WeChat reports it closed or revoked. Final: create a new payment to retry. */
  | 'CLOSED'
  /** WeChat confirmed the payment of exactly `amount` (by a signed notify or orderquery); transactionId and paidAt are set. Final. */
  | 'PAID'
  /** Created and not known to be paid: wx.requestPayment may still pay it. After paying, order(refresh: true) asks WeChat if the notify is late. */
  | 'PENDING';

export type CreatePaymentMutationVariables = Exact<{
  money: number;
}>;


export type CreatePaymentMutation = { createPayment: { order: { id: string, outTradeNo: string, amount: number, status: OrderStatus, transactionId: string | null, paidAt: string | null }, payParams: { timeStamp: string, nonceStr: string, package: string, signType: string, paySign: string } } };

export type LoginMutationVariables = Exact<{
  code: string;
}>;


export type LoginMutation = { login: { token: string, expiresAt: string, user: { id: string, openid: string } } };

export type MeQueryVariables = Exact<{ [key: string]: never; }>;


export type MeQuery = { me: { id: string, openid: string, nickname: string | null, avatarUrl: string | null, gender: number | null, language: string | null, city: string | null, province: string | null, country: string | null, updatedAt: string } };

export type OrderFieldsFragment = { id: string, outTradeNo: string, amount: number, status: OrderStatus, transactionId: string | null, paidAt: string | null };

export type OrderQueryVariables = Exact<{
  outTradeNo: string;
  refresh?: boolean | null | undefined;
}>;


export type OrderQuery = { order: { id: string, outTradeNo: string, amount: number, status: OrderStatus, transactionId: string | null, paidAt: string | null } | null };

export type UpdateProfileMutationVariables = Exact<{
  encryptedData: string;
  iv: string;
}>;


export type UpdateProfileMutation = { updateProfile: { id: string, openid: string, nickname: string | null, avatarUrl: string | null, gender: number | null, language: string | null, city: string | null, province: string | null, country: string | null, updatedAt: string } };

export type UserFieldsFragment = { id: string, openid: string, nickname: string | null, avatarUrl: string | null, gender: number | null, language: string | null, city: string | null, province: string | null, country: string | null, updatedAt: string };

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
export const OrderFieldsFragmentDoc = new TypedDocumentString(`
    fragment OrderFields on Order {
  id
  outTradeNo
  amount
  status
  transactionId
  paidAt
}
    `, {"fragmentName":"OrderFields"}) as unknown as TypedDocumentString<OrderFieldsFragment, unknown>;
export const UserFieldsFragmentDoc = new TypedDocumentString(`
    fragment UserFields on User {
  id
  openid
  nickname
  avatarUrl
  gender
  language
  city
  province
  country
  updatedAt
}
    `, {"fragmentName":"UserFields"}) as unknown as TypedDocumentString<UserFieldsFragment, unknown>;
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
  gender
  language
  city
  province
  country
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
}`) as unknown as TypedDocumentString<OrderQuery, OrderQueryVariables>;
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
  gender
  language
  city
  province
  country
  updatedAt
}`) as unknown as TypedDocumentString<UpdateProfileMutation, UpdateProfileMutationVariables>;
import { Field, ObjectType } from 'type-graphql';
import { Order } from './order.entity';

/** What wx.requestPayment takes, signed with the second signature (appId is implied by the mini-program). */
@ObjectType()
export class PayParams {
  @Field({ description: 'Seconds since the epoch, as a string.' })
  timeStamp!: string;

  @Field()
  nonceStr!: string;

  @Field({ description: '`prepay_id=…`' })
  package!: string;

  @Field({ description: 'MD5 or HMAC-SHA256.' })
  signType!: string;

  @Field()
  paySign!: string;
}

@ObjectType()
export class PaymentPayload {
  @Field(() => Order)
  order!: Order;

  @Field(() => PayParams)
  payParams!: PayParams;
}

import { Field, Int, ObjectType } from 'type-graphql';
import { Order } from './order.entity';

/** What wx.requestPayment takes, signed with the second signature (appId is implied by the mini-program). */
@ObjectType({
  description:
    "The arguments of wx.requestPayment, signed by the server. Pass all five as they are, adding or changing nothing: paySign covers them and the mini-program's own appId.",
})
export class PayParams {
  @Field({ description: 'Seconds since the epoch, as a string (wx.requestPayment wants a string).' })
  timeStamp!: string;

  @Field({ description: 'A random string of 32 characters, covered by paySign.' })
  nonceStr!: string;

  @Field({ description: "`prepay_id=<id>`, the prepay order WeChat Pay's unifiedorder created for this order." })
  package!: string;

  @Field({ description: "How paySign was made: `MD5` or `HMAC-SHA256` (the server's WECHAT_PAY_SIGN_TYPE)." })
  signType!: string;

  @Field({
    description:
      "The signature over appId, timeStamp, nonceStr, package and signType, made with the merchant's pay key (which never leaves the server).",
  })
  paySign!: string;
}

@ObjectType({ description: "The server's payment limits, so a client never hard-codes them." })
export class PaymentLimits {
  @Field(() => Int, {
    description: "The largest createPayment(money), in integer fen (the server's PAY_MAX_AMOUNT; 100000 = ¥1,000).",
  })
  maxAmount!: number;
}

@ObjectType({ description: 'What createPayment returns: the new order and the parameters to pay it.' })
export class PaymentPayload {
  @Field(() => Order, { description: 'The order just created, PENDING.' })
  order!: Order;

  @Field(() => PayParams, { description: 'Pass these to wx.requestPayment as they are.' })
  payParams!: PayParams;
}

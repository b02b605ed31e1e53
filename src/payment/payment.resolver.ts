import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../server/context';
import { CurrentSession } from '../auth/current-session.decorator';
import type { Session } from '../auth/session';
import { Order } from './order.entity';
import { PaymentLimits, PaymentPayload } from './payment.types';
import { findOwnOrder, listOwnOrders } from './payment.service';
import { AppError } from '../core/errors';

@Resolver()
export class PaymentResolver {
  @Authorized()
  @Mutation(() => PaymentPayload, {
    description:
      "Creates a PENDING order of `money` fen and returns it with the parameters for wx.requestPayment. The order becomes PAID when WeChat's notify arrives (or on order(refresh: true)), never from the mini-program's word. Errors: BAD_USER_INPUT (money out of range), RATE_LIMITED (over the server's PAY_RATE_PER_USER calls per window: wait extensions.retryAfterSeconds), PAYMENTS_DISABLED, PAYMENT_FAILED (WeChat Pay refused: extensions.wechatErrCode and wechatErrMsg say why), WECHAT_UNAVAILABLE or SERVICE_UNAVAILABLE (no pay parameters: retry with a new call). An order that cannot be paid is CLOSED.",
  })
  async createPayment(
    @Arg('money', () => Int, {
      description:
        "The amount in integer fen (100 = ¥1.00), from 1 to the server's PAY_MAX_AMOUNT (100000, i.e. ¥1,000, by default).",
    })
    money: number,
    @CurrentSession() session: Session,
    @Ctx() ctx: Context,
  ): Promise<PaymentPayload> {
    if (!ctx.services.payments) throw new AppError('PAYMENTS_DISABLED');
    return ctx.services.payments.createPayment(ctx.em, session, money, ctx.ip);
  }

  @Authorized()
  @Query(() => Order, {
    nullable: true,
    description:
      "One of the caller's own orders, or null when the caller has none with this outTradeNo (another user's order is null too). With refresh: true a PENDING order is first checked with WeChat Pay's orderquery, so a lost notify still ends PAID (or CLOSED); when WeChat cannot be reached the order comes back as stored, without an error.",
  })
  async order(
    @Arg('outTradeNo', { description: "The order's outTradeNo as createPayment returned it (case and spaces matter)." })
    outTradeNo: string,
    @Arg('refresh', () => Boolean, {
      defaultValue: false,
      nullable: true,
      description:
        'true: ask WeChat Pay about a PENDING order before answering (one orderquery call). Use it when wx.requestPayment succeeded but the order still reads PENDING.',
    })
    refresh: boolean | null,
    @CurrentSession() session: Session,
    @Ctx() ctx: Context,
  ): Promise<Order | null> {
    const order = await findOwnOrder(ctx.em, session, outTradeNo);
    if (!order || !refresh || !ctx.services.payments) return order;
    return ctx.services.payments.refreshOrder(ctx.em, order);
  }

  @Query(() => PaymentLimits, {
    description:
      "The server's payment limits (no token needed: they are the same for everyone). Errors: PAYMENTS_DISABLED.",
  })
  paymentLimits(@Ctx() ctx: Context): PaymentLimits {
    if (!ctx.services.payments) throw new AppError('PAYMENTS_DISABLED');
    return { maxAmount: ctx.services.payments.maxAmount };
  }

  @Authorized()
  @Query(() => [Order], { description: "The caller's own orders, newest first." })
  async orders(
    @Arg('first', () => Int, {
      defaultValue: 20,
      nullable: true,
      description: 'How many orders to return, from 1 to 100 (smaller or larger values are clamped).',
    })
    first: number | null,
    @CurrentSession() session: Session,
    @Ctx() ctx: Context,
  ): Promise<Order[]> {
    return listOwnOrders(ctx.em, session, first ?? 20);
  }
}

import { Arg, Authorized, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { ADMIN } from '../auth/auth-checker';
import { AppError } from '../core/errors';
import { Order } from '../payment/order.entity';
import { orderRepository } from '../payment/order.repository';
import type { Context } from '../server/context';
import { Refund, RefundStatus } from './refund.entity';

/** refund and adminOrder (operators only), and an order's refunds (whoever may read the order). */
@Resolver(() => Order)
export class RefundResolver {
  @Authorized(ADMIN)
  @Mutation(() => Refund, {
    description:
      "Operators only (an ADMIN token). Refunds `amount` fen of a paid order through WeChat Pay (secapi/pay/refund, mutual TLS). The amount is reserved first, in one atomic step with the check, so the refunds that are not CLOSED never add up past the order's amount on any number of instances. outRefundNo is the idempotency key: the same key and amount answer the same refund (sent to WeChat again only if WeChat never accepted it, or it was CLOSED); another amount or order is BAD_USER_INPUT. The refund is PROCESSING until WeChat's refund notify (or the sweeper's refundquery) settles it. Errors: FORBIDDEN (a user's token), UNAUTHENTICATED, BAD_USER_INPUT (extensions.field), ORDER_NOT_PAID, REFUND_EXCEEDS_PAID (extensions.refundable), REFUND_FAILED (extensions.wechatErrCode, e.g. NOTENOUGH, TRADE_OVERDUE, TOO_MANY_REFUNDS: nothing refunded, released), WECHAT_UNAVAILABLE (nothing known to be refunded, released: retry with extensions.outRefundNo), REFUNDS_DISABLED, PAYMENTS_DISABLED.",
  })
  async refund(
    @Arg('outTradeNo', { description: "The order's outTradeNo." }) outTradeNo: string,
    @Arg('amount', () => Int, { description: 'Fen to refund: 1 up to what is left of the order.' }) amount: number,
    @Arg('reason', () => String, {
      nullable: true,
      description: 'Why (WeChat shows it to the payer as refund_desc), at most 80 characters.',
    })
    reason: string | null | undefined,
    @Arg('outRefundNo', () => String, {
      nullable: true,
      description:
        'The idempotency key (WeChat’s out_refund_no): at most 64 of [0-9A-Za-z_-|*@]. Generated when absent; send the one answered to retry.',
    })
    outRefundNo: string | null | undefined,
    @Ctx() ctx: Context,
  ): Promise<Refund> {
    if (!ctx.services.refunds) throw new AppError('PAYMENTS_DISABLED');
    return ctx.services.refunds.refund(ctx.em, { outTradeNo, amount, reason, outRefundNo });
  }

  @Authorized(ADMIN)
  @Query(() => Order, {
    nullable: true,
    description: "Operators only (an ADMIN token): any user's order with its refunds, or null. Errors: FORBIDDEN.",
  })
  async adminOrder(
    @Arg('outTradeNo', { description: "The order's outTradeNo (case and spaces matter)." }) outTradeNo: string,
    @Ctx() ctx: Context,
  ): Promise<Order | null> {
    return orderRepository(ctx.em).findByOutTradeNo(outTradeNo);
  }

  @FieldResolver(() => [Refund], { description: "The order's refunds, oldest first." })
  async refunds(@Root() order: Order, @Ctx() ctx: Context): Promise<Refund[]> {
    return ctx.services.refunds ? ctx.services.refunds.listForOrder(ctx.em, order.id) : [];
  }

  @FieldResolver(() => Int, {
    description: 'Fen refunded so far: the SUCCESS refunds (PROCESSING ones are on their way and not counted yet).',
  })
  async refundedAmount(@Root() order: Order, @Ctx() ctx: Context): Promise<number> {
    if (!ctx.services.refunds) return 0;
    const refunds = await ctx.services.refunds.listForOrder(ctx.em, order.id);
    return refunds.filter((r) => r.status === RefundStatus.SUCCESS).reduce((sum, r) => sum + r.amount, 0);
  }
}

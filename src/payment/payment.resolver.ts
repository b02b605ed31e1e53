import { Arg, Authorized, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../core/context';
import { CurrentSession } from '../auth/current-session.decorator';
import type { Session } from '../auth/session';
import { Order } from './order.entity';
import { PaymentPayload } from './payment.types';
import { createPayment, findOwnOrder, listOwnOrders, refreshOrder } from './payment.service';

@Resolver()
export class PaymentResolver {
  @Authorized()
  @Mutation(() => PaymentPayload, { description: 'Creates a PENDING order of `money` fen and returns the parameters for wx.requestPayment.' })
  async createPayment(@Arg('money', () => Int) money: number, @CurrentSession() session: Session, @Ctx() ctx: Context): Promise<PaymentPayload> {
    return createPayment(ctx.services, ctx.em, session, money, ctx.ip);
  }

  @Authorized()
  @Query(() => Order, { nullable: true, description: "One of the caller's orders; refresh asks WeChat about a PENDING one." })
  async order(
    @Arg('outTradeNo') outTradeNo: string,
    @Arg('refresh', () => Boolean, { defaultValue: false, nullable: true }) refresh: boolean | null,
    @CurrentSession() session: Session,
    @Ctx() ctx: Context,
  ): Promise<Order | null> {
    const order = await findOwnOrder(ctx.em, session, outTradeNo);
    if (!order || !refresh) return order;
    return refreshOrder(ctx.services, ctx.em, order);
  }

  @Authorized()
  @Query(() => [Order], { description: "The caller's orders, newest first (at most 100)." })
  async orders(
    @Arg('first', () => Int, { defaultValue: 20, nullable: true }) first: number | null,
    @CurrentSession() session: Session,
    @Ctx() ctx: Context,
  ): Promise<Order[]> {
    return listOwnOrders(ctx.em, session, first ?? 20);
  }
}

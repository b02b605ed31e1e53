import type { DataModel } from '../core/db';
import { User } from '../auth/user.entity';
import { Order } from '../payment/order.entity';
import { PaymentNotification } from '../payment/payment-notification.entity';
import { Avatar, MediaCheckResult } from '../avatar/avatar.entity';
import { Refund } from '../refund/refund.entity';
import { migrationsFor } from '../migrations';

/** Every entity the ORM knows, and the migrations that build their tables. Entities never import resolvers or services. */
export const dataModel: DataModel = {
  entities: [User, Order, PaymentNotification, Avatar, MediaCheckResult, Refund],
  migrationsFor,
};

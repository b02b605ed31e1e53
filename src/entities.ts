import { User } from './auth/user.entity';
import { Order } from './payment/order.entity';
import { PaymentNotification } from './payment/payment-notification.entity';

/** Every entity the ORM knows. Entities never import resolvers or services. */
export const entities = [User, Order, PaymentNotification];

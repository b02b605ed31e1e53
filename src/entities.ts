import { User } from './auth/user.entity';

/** Every entity the ORM knows. Entities never import resolvers or services. */
export const entities = [User];

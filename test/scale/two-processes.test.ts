import { describeServices, redisNamespace, target } from '../support/target';
import { describeScaleOut } from './scale-out';

describeScaleOut('two server processes on one MariaDB and one Redis', describeServices, {
  start: async () => ({
    REDIS_URL: target.kind === 'services' ? target.redisUrl : '',
    REDIS_NAMESPACE: redisNamespace,
  }),
  stop: async () => undefined,
});

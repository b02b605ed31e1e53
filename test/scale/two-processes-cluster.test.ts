import { describeCluster, startRedisCluster, type LocalRedisCluster } from '../support/redis-cluster';
import { redisNamespace } from '../support/target';
import { describeScaleOut } from './scale-out';

let cluster: LocalRedisCluster | undefined;

describeScaleOut(
  'two server processes on one MariaDB and one Redis Cluster (three masters, one replica each)',
  describeCluster,
  {
    start: async () => {
      cluster = await startRedisCluster();
      return { REDIS_CLUSTER_NODES: cluster.nodesSetting, REDIS_NAMESPACE: redisNamespace };
    },
    stop: async () => {
      await cluster?.stop();
    },
  },
);

import { ConfigError, loadConfig } from '../../src/core/config';

const refusal = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return 'no error';
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
};

describe('REDIS_CLUSTER_NODES', () => {
  it('when a list of host:port is given, then the cluster nodes are read in order and REDIS_URL stays unset', () => {
    const c = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b.internal:7001,127.0.0.1:7002' });
    expect(c.redisClusterNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-b.internal', port: 7001 },
      { host: '127.0.0.1', port: 7002 },
    ]);
    expect(c.redisUrl).toBeUndefined();
  });

  it('when it is unset or blank, then there is no cluster', () => {
    expect(loadConfig({}).redisClusterNodes).toBeUndefined();
    expect(loadConfig({ REDIS_CLUSTER_NODES: '' }).redisClusterNodes).toBeUndefined();
  });

  it('when REDIS_URL is set too, then the start is refused: neither wins', () => {
    expect(refusal({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CLUSTER_NODES: '127.0.0.1:7000' })).toMatch(
      /REDIS_CLUSTER_NODES: set either it \(a Redis Cluster\) or REDIS_URL \(one Redis\), not both/,
    );
  });

  it.each(['127.0.0.1', 'redis://127.0.0.1:7000', '127.0.0.1:7000,', 'host:99999', 'a b:7000', ':7000'])(
    'when it is %p, then the start is refused naming the setting and its form',
    (value) => {
      expect(refusal({ REDIS_CLUSTER_NODES: value })).toMatch(/REDIS_CLUSTER_NODES: must be host:port\[,host:port…\]/);
    },
  );
});

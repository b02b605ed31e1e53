import { ConfigError, loadConfig } from '../../src/core/config';

const messageOf = (env: Record<string, string>) => {
  try {
    loadConfig(env);
    return 'no error';
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
};

describe('loadConfig', () => {
  it('when nothing is set, then the embedded database, memory store, simulator and documented defaults apply', () => {
    const c = loadConfig({});
    expect(c.port).toBe(4000);
    expect(c.database).toEqual({ kind: 'libsql', url: 'file:./data/wxmp.db' });
    expect(c.redisUrl).toBeUndefined();
    expect(c.redisNamespace).toBe('wxmp');
    expect(c.simulator).toBe(true);
    expect(c.wechat.apiBase).toBeUndefined();
    expect(c.sessionTtlSeconds).toBe(604800);
    expect(c.wechat.timeoutMs).toBe(5000);
    expect(c.wechat.dataMaxAgeSeconds).toBe(0);
    expect(c.migrateOnStart).toBe(true);
  });

  it('when a real AppID and secret are set, then WeChat is called at WECHAT_API_BASE', () => {
    const c = loadConfig({ WECHAT_APPID: 'wx1234567890abcdef', WECHAT_SECRET: 'secret-secret' });
    expect(c.simulator).toBe(false);
    expect(c.wechat.apiBase).toBe('https://api.weixin.qq.com');
  });

  it('when mariadb:// is given, then the MySQL driver is used', () => {
    expect(loadConfig({ DATABASE_URL: 'mariadb://root@127.0.0.1:3306/app' }).database).toEqual({
      kind: 'mysql',
      url: 'mysql://root@127.0.0.1:3306/app',
    });
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'postgres://x/y' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    [{ REDIS_NAMESPACE: 'a*b' }, 'REDIS_NAMESPACE'],
    [{ SESSION_TTL_SECONDS: '0' }, 'SESSION_TTL_SECONDS'],
    [{ MIGRATE_ON_START: 'maybe' }, 'MIGRATE_ON_START'],
    [{ WECHAT_APPID: 'not-an-appid' }, 'WECHAT_APPID'],
    [{ WECHAT_APPID: 'wx1234567890abcdef' }, 'WECHAT_SECRET'],
    [{ NODE_ENV: 'production' }, 'WECHAT_APPID'],
    [
      {
        NODE_ENV: 'production',
        WECHAT_APPID: 'wx1234567890abcdef',
        WECHAT_SECRET: 'secret-secret',
        WECHAT_SIMULATOR: '1',
      },
      'WECHAT_SIMULATOR',
    ],
  ])('when %j, then the start fails naming %s', (env, name) => {
    expect(messageOf(env as Record<string, string>)).toContain(name);
  });

  it('when the simulator is mounted and HOST is not set, then the server listens on 127.0.0.1 only; with a real AppID on 0.0.0.0', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(
      loadConfig({ WECHAT_APPID: 'wx1234567890abcdef', WECHAT_SECRET: 'secret-secret', WECHAT_SIMULATOR: '1' }).host,
    ).toBe('127.0.0.1');
    expect(loadConfig({ WECHAT_APPID: 'wx1234567890abcdef', WECHAT_SECRET: 'secret-secret' }).host).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '' }).host).toBe('127.0.0.1');
  });

  it('when HOST is set, then it wins, with or without the simulator', () => {
    expect(loadConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
    expect(
      loadConfig({ HOST: '127.0.0.1', WECHAT_APPID: 'wx1234567890abcdef', WECHAT_SECRET: 'secret-secret' }).host,
    ).toBe('127.0.0.1');
  });

  it('when the request, token, payment and metrics settings are not set, then their documented defaults apply', () => {
    const c = loadConfig({});
    expect(c.limits).toMatchObject({
      requestTimeoutMs: 30000,
      keepAliveTimeoutMs: 72000,
      tokens: 2000,
      payPerUser: 20,
      payWindowSeconds: 60,
    });
    expect(c.metricsToken).toBeUndefined();
    const set = loadConfig({
      REQUEST_TIMEOUT_MS: '1500',
      KEEP_ALIVE_TIMEOUT_MS: '5000',
      GRAPHQL_MAX_TOKENS: '500',
      PAY_RATE_PER_USER: '3',
      PAY_RATE_WINDOW_SECONDS: '10',
      METRICS_TOKEN: 'a-long-enough-token',
    });
    expect(set.limits).toMatchObject({
      requestTimeoutMs: 1500,
      keepAliveTimeoutMs: 5000,
      tokens: 500,
      payPerUser: 3,
      payWindowSeconds: 10,
    });
    expect(set.metricsToken).toBe('a-long-enough-token');
  });

  it('when the login and payment limits are 1,000,000 (a load test from one host), then they are accepted', () => {
    const c = loadConfig({
      LOGIN_RATE_PER_IP: '1000000',
      LOGIN_RATE_PER_OPENID: '1000000',
      PAY_RATE_PER_USER: '1000000',
    });
    expect(c.limits).toMatchObject({ loginPerIp: 1_000_000, loginPerOpenid: 1_000_000, payPerUser: 1_000_000 });
  });

  it.each([
    [{ REQUEST_TIMEOUT_MS: '0' }, 'REQUEST_TIMEOUT_MS'],
    [{ REQUEST_TIMEOUT_MS: 'soon' }, 'REQUEST_TIMEOUT_MS'],
    [{ KEEP_ALIVE_TIMEOUT_MS: '0' }, 'KEEP_ALIVE_TIMEOUT_MS'],
    [{ GRAPHQL_MAX_TOKENS: '10' }, 'GRAPHQL_MAX_TOKENS'],
    [{ PAY_RATE_PER_USER: '0' }, 'PAY_RATE_PER_USER'],
    [{ PAY_RATE_PER_USER: '1000001' }, 'PAY_RATE_PER_USER'],
    [{ PAY_RATE_WINDOW_SECONDS: '0' }, 'PAY_RATE_WINDOW_SECONDS'],
    [{ PAY_RATE_WINDOW_SECONDS: '1.5' }, 'PAY_RATE_WINDOW_SECONDS'],
    [{ LOGIN_RATE_PER_IP: '1000001' }, 'LOGIN_RATE_PER_IP'],
  ])('when %j, then the start fails naming %s', (env, name) => {
    expect(messageOf(env as Record<string, string>)).toContain(name);
  });

  it('when METRICS_TOKEN is too short to resist guessing, then the start fails naming it but not the value', () => {
    const msg = messageOf({ METRICS_TOKEN: 'abc123' });
    expect(msg).toContain('METRICS_TOKEN');
    expect(msg).not.toContain('abc123');
  });

  it('when a secret is invalid, then the message names the variable but not the value', () => {
    const msg = messageOf({ WECHAT_APPID: 'wx1234567890abcdef', WECHAT_SECRET: 'short' });
    expect(msg).toContain('WECHAT_SECRET');
    expect(msg).not.toContain('short');
  });

  it('when a value breaks its rule, then the message states the whole rule and accepted range, never the secret', () => {
    expect(messageOf({ WECHAT_APPID: 'wx123456', WECHAT_SECRET: 'secret-secret' })).toContain(
      'WECHAT_APPID: must be wx followed by 8 to 32 letters or digits (a real AppID is wx and 16 more)',
    );
    expect(messageOf({ PORT: '70000' })).toContain('PORT: must be an integer from 0 to 65535');
    expect(messageOf({ PORT: '-1' })).toContain('PORT: must be an integer from 0 to 65535');
    expect(messageOf({ SESSION_TTL_SECONDS: '1.5' })).toContain('SESSION_TTL_SECONDS: must be an integer, 1 or more');
    const pay = messageOf({
      WECHAT_APPID: 'wx1234567890abcdef',
      WECHAT_SECRET: 'secret-secret',
      WECHAT_MCH_ID: '12a',
      WECHAT_PAY_KEY: 'tooShortKey',
    });
    expect(pay).toContain('WECHAT_MCH_ID: must be the merchant number: 6 to 32 digits');
    expect(pay).toContain('WECHAT_PAY_KEY: must be the API key: exactly 32 letters or digits');
    expect(pay).not.toContain('tooShortKey');
  });

  it('when METRICS_TOKEN holds whitespace, then the start fails (a Bearer header could never carry it), naming the rule, not the token', () => {
    const msg = messageOf({ METRICS_TOKEN: 'has a space in the middle' });
    expect(msg).toContain('METRICS_TOKEN: at least 16 characters, none of them whitespace');
    expect(msg).not.toContain('has a space');
    expect(loadConfig({ METRICS_TOKEN: 'abcdefghijklmnop_-.~+/=' }).metricsToken).toBe('abcdefghijklmnop_-.~+/=');
  });

  it("when SIMULATOR_XML_LAYOUT is unset, then WeChat's own layout; when it is not a layout, then the start fails naming it", () => {
    expect(loadConfig({}).simulatorXmlLayout).toBe('wechat');
    expect(loadConfig({ SIMULATOR_XML_LAYOUT: 'vary' }).simulatorXmlLayout).toBe('vary');
    expect(messageOf({ SIMULATOR_XML_LAYOUT: 'pretty' })).toContain(
      'SIMULATOR_XML_LAYOUT: must be wechat, vary, compact, newline, crlf or indented',
    );
  });
});

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
    expect(loadConfig({ DATABASE_URL: 'mariadb://root@127.0.0.1:3306/app' }).database).toEqual({ kind: 'mysql', url: 'mysql://root@127.0.0.1:3306/app' });
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'postgres://x/y' }, 'DATABASE_URL'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL'],
    [{ SESSION_TTL_SECONDS: '0' }, 'SESSION_TTL_SECONDS'],
    [{ MIGRATE_ON_START: 'maybe' }, 'MIGRATE_ON_START'],
    [{ WECHAT_APPID: 'not-an-appid' }, 'WECHAT_APPID'],
    [{ WECHAT_APPID: 'wx1234567890abcdef' }, 'WECHAT_SECRET'],
    [{ NODE_ENV: 'production' }, 'WECHAT_APPID'],
    [{ NODE_ENV: 'production', WECHAT_APPID: 'wx1234567890abcdef', WECHAT_SECRET: 'secret-secret', WECHAT_SIMULATOR: '1' }, 'WECHAT_SIMULATOR'],
  ])('when %j, then the start fails naming %s', (env, name) => {
    expect(messageOf(env as Record<string, string>)).toContain(name);
  });

  it('when a secret is invalid, then the message names the variable but not the value', () => {
    const msg = messageOf({ WECHAT_APPID: 'wx1234567890abcdef', WECHAT_SECRET: 'short' });
    expect(msg).toContain('WECHAT_SECRET');
    expect(msg).not.toContain('short');
  });

  it("when SIMULATOR_XML_LAYOUT is unset, then WeChat's own layout; when it is not a layout, then the start fails naming it", () => {
    expect(loadConfig({}).simulatorXmlLayout).toBe('wechat');
    expect(loadConfig({ SIMULATOR_XML_LAYOUT: 'vary' }).simulatorXmlLayout).toBe('vary');
    expect(messageOf({ SIMULATOR_XML_LAYOUT: 'pretty' })).toContain('SIMULATOR_XML_LAYOUT: must be wechat, vary, compact, newline, crlf or indented');
  });
});

import { Writable } from 'node:stream';
import { censorSecrets, createLogger } from '../../src/core/logger';

/** A logger whose lines land in an array, written synchronously. */
function capture() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger('info', sink);
  return { logger, lines: () => lines.join('') };
}

describe('log censoring', () => {
  it('when an object holds no secret key, then the very same object comes back (no copy)', () => {
    const obj = { graphql: { operation: 'me', outcome: 'ok', durationMs: 1.5 }, list: [{ a: 1 }] };
    expect(censorSecrets(obj)).toBe(obj);
  });

  it('when secret keys sit at the top, nested, in arrays and in headers, then each is censored and the input is untouched', () => {
    const obj = {
      token: 't0p',
      nested: { sessionKey: 'k3y', fine: 'yes' },
      req: { headers: { authorization: 'Bearer abc', host: 'h' } },
      calls: [{ sign: 'S1GN' }, { ok: true }],
      variables: { code: 'c0de' },
    };
    const out = censorSecrets(obj);
    expect(out).toEqual({
      token: '[redacted]',
      nested: { sessionKey: '[redacted]', fine: 'yes' },
      req: { headers: { authorization: '[redacted]', host: 'h' } },
      calls: [{ sign: '[redacted]' }, { ok: true }],
      variables: '[redacted]',
    });
    expect(obj.nested.sessionKey).toBe('k3y');
    expect(obj.calls[0].sign).toBe('S1GN');
  });

  it('when an object with prototype getters is censored, then the copy still answers them (a Fastify request keeps url and method)', () => {
    class Request {
      constructor(
        readonly raw: { url: string; method: string },
        readonly body: unknown,
      ) {}
      get url() {
        return this.raw.url;
      }
      get method() {
        return this.raw.method;
      }
    }
    const req = new Request({ url: '/graphql', method: 'POST' }, { variables: { code: 'c0de' } });
    const out = censorSecrets({ req });
    expect(out.req).not.toBe(req);
    expect(out.req).toBeInstanceOf(Request);
    expect(out.req.url).toBe('/graphql');
    expect(out.req.method).toBe('POST');
    expect(out.req.body).toEqual({ variables: '[redacted]' });
  });

  it('when a logged error carries a secret property, then the line keeps its message and type but not the secret', () => {
    const { logger, lines } = capture();
    const err = Object.assign(new TypeError('boom'), { payKey: 'PAYKEY123' });
    logger.error({ err, secret: 'APPSECRET9' }, 'failed');
    logger.flush();
    const text = lines();
    expect(text).toContain('boom');
    expect(text).toContain('TypeError');
    expect(text).not.toContain('PAYKEY123');
    expect(text).not.toContain('APPSECRET9');
  });

  it('when a child logger is bound to a secret, then its lines do not carry it', () => {
    const { logger, lines } = capture();
    logger.child({ iv: 'IVVALUE0', reqId: 'r1' }).info({ encryptedData: 'ENCDATA0' }, 'hello');
    logger.flush();
    const text = lines();
    expect(text).toContain('"reqId":"r1"');
    expect(text).not.toContain('IVVALUE0');
    expect(text).not.toContain('ENCDATA0');
  });

  it('when a child or grandchild logger is bound to a secret nested in an object, then its lines do not carry it', () => {
    const { logger, lines } = capture();
    const bindings = { ctx: { user: 'u1', session: { token: 'T0KEN42' } } };
    logger
      .child(bindings)
      .child({ wechat: { sessionKey: 'SK3Y99' } })
      .info('hello');
    logger.flush();
    const text = lines();
    expect(text).toContain('"user":"u1"');
    expect(text).not.toContain('T0KEN42');
    expect(text).not.toContain('SK3Y99');
    expect(bindings.ctx.session.token).toBe('T0KEN42');
  });

  it('when a child is made with options (level, msgPrefix, serializers), then they still apply and its bindings are still censored', () => {
    const { logger, lines } = capture();
    const child = logger.child(
      { session: { sessionKey: 'SK3Y77' } },
      { level: 'warn', msgPrefix: '[pay] ', serializers: { order: (o: { id: number }) => ({ id: o.id }) } },
    );
    child.info('dropped below the level');
    child.warn({ order: { id: 7, note: 'n0te' } }, 'late');
    logger.flush();
    const text = lines();
    expect(text).not.toContain('dropped below the level');
    expect(text).toContain('"msg":"[pay] late"');
    expect(text).toContain('"order":{"id":7}');
    expect(text).not.toContain('n0te');
    expect(text).not.toContain('SK3Y77');
  });
});

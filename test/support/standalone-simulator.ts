import Fastify from 'fastify';
import { SIMULATOR_IDENTITY } from '../../src/core/config';
import { simulatorPlugin } from '../../src/simulator/simulator.plugin';
import type { SimulatorV3Options } from '../../src/simulator/v3.routes';
import type { SimulatorXmlLayout } from '../../src/simulator/xml-layout';

/**
 * The simulator on its own port, as `npm run simulator` serves it: for servers that must not mount it in-process
 * (NODE_ENV=production refuses to), pointed at it through WECHAT_API_BASE and WECHAT_PAY_BASE like real WeChat.
 */
export async function startStandaloneSimulator(
  options: {
    xmlLayout?: SimulatorXmlLayout;
    tls?: { cert: string; key: string; ca: string };
    /** WeChat Pay v3 beside v2 (src/simulator/v3.routes.ts), in certificate mode when given `certificates`. */
    v3?: SimulatorV3Options;
  } = {},
) {
  const app = Fastify();
  let pushUrl: string | undefined;
  let httpsBase: string | undefined;
  // Varied by default, like the in-process simulator of test/support/server.ts.
  await app.register(simulatorPlugin, {
    ...SIMULATOR_IDENTITY,
    xmlLayout: options.xmlLayout ?? 'vary',
    pushUrl: () => pushUrl,
    ...(options.tls ? { tls: options.tls, onHttps: (base: string) => (httpsBase = base) } : {}),
    ...(options.v3 ? { v3: options.v3 } : {}),
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address() as { port: number };
  const base = `http://127.0.0.1:${address.port}`;
  return {
    base,
    /** Its HTTP server, to watch for requests arriving (test/support/arrival.ts). */
    server: app.server,
    /** Its HTTPS pay API (with /secapi), when started with `tls`. */
    get httpsBase() {
      if (!httpsBase) throw new Error('the simulator was started without tls');
      return httpsBase;
    },
    /** Where its media check results are pushed from now on (the message push URL of a server under test). */
    pushTo(url: string) {
      pushUrl = url;
    },
    /** Env for a server that talks to this simulator as if it were WeChat. */
    env: (notifyUrl = 'http://127.0.0.1:9/notify') => ({
      WECHAT_APPID: SIMULATOR_IDENTITY.appid,
      WECHAT_SECRET: SIMULATOR_IDENTITY.secret,
      WECHAT_API_BASE: base,
      WECHAT_MCH_ID: SIMULATOR_IDENTITY.mchId,
      WECHAT_PAY_KEY: SIMULATOR_IDENTITY.payKey,
      WECHAT_PAY_BASE: base,
      WECHAT_NOTIFY_URL: notifyUrl,
      WECHAT_PUSH_TOKEN: SIMULATOR_IDENTITY.pushToken,
    }),
    async loginCode(body: Record<string, unknown> = {}) {
      const res = await fetch(`${base}/dev/login-code`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return (await res.json()) as { code: string; openid: string };
    },
    close: () => app.close(),
  };
}

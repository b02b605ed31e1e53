import Fastify from 'fastify';
import { loadConfig, SIMULATOR_IDENTITY } from '../core/config';
import { createLogger } from '../core/logger';
import { simulatorPlugin } from '../simulator/simulator.plugin';

/**
 * `npm run simulator [port]`: the WeChat simulator alone, on the given port (default 4001). Point a server at it
 * with WECHAT_APPID/WECHAT_SECRET/WECHAT_MCH_ID/WECHAT_PAY_KEY equal to the simulator's (SIMULATOR_IDENTITY in
 * src/core/config.ts) and WECHAT_API_BASE=WECHAT_PAY_BASE=http://127.0.0.1:4001. SIMULATOR_XML_LAYOUT sets how its pay
 * XML is laid out; SIMULATOR_PUSH_URL where media check results are pushed, signed with WECHAT_PUSH_TOKEN.
 */
/** Where a server started with `npm start` on its default port receives pushes. */
const DEFAULT_PUSH_URL = 'http://127.0.0.1:4000/wechat/push';

async function main() {
  // Loaded in simulator mode: HOST defaults to loopback as for a server with the simulator mounted, NODE_ENV=production
  // refuses it, and an identity from the environment (WECHAT_APPID, WECHAT_MCH_ID, …) replaces the built-in one.
  const config = loadConfig({ ...process.env, WECHAT_SIMULATOR: '1' });
  const port = Number(process.argv[2] ?? 4001);
  const pushUrl = config.simulatorPushUrl ?? DEFAULT_PUSH_URL;
  const app = Fastify({ loggerInstance: createLogger(config.logLevel, undefined, config.logFormat) });
  await app.register(simulatorPlugin, {
    appid: config.wechat.appid,
    secret: config.wechat.secret,
    mchId: config.pay!.mchId,
    payKey: config.pay!.key,
    xmlLayout: config.simulatorXmlLayout,
    pushUrl: () => pushUrl,
    pushToken: config.wechat.pushToken,
  });
  await app.listen({ port, host: config.host });
  app.log.info({ appid: config.wechat.appid }, 'WeChat simulator listening');
  // Its built-in identity is public (it is in the source and the README), so it is printed for pointing a server at
  // it; a secret or pay key that came from the environment is someone's, and is not.
  const own = (value: string, builtIn: string) => (value === builtIn ? value : '(from the environment, not shown)');
  const addr = app.server.address();
  const base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : port}`;
  process.stdout.write(
    [
      'Point a server at this simulator with:',
      `  WECHAT_APPID=${config.wechat.appid}`,
      `  WECHAT_SECRET=${own(config.wechat.secret, SIMULATOR_IDENTITY.secret)}`,
      `  WECHAT_MCH_ID=${config.pay!.mchId}`,
      `  WECHAT_PAY_KEY=${own(config.pay!.key, SIMULATOR_IDENTITY.payKey)}`,
      `  WECHAT_API_BASE=${base} WECHAT_PAY_BASE=${base}`,
      '  WECHAT_NOTIFY_URL=http://127.0.0.1:4000/notify   (where that server receives notifies)',
      `  WECHAT_PUSH_TOKEN=${own(config.wechat.pushToken!, SIMULATOR_IDENTITY.pushToken)}`,
      `Media check results are pushed to ${pushUrl} (SIMULATOR_PUSH_URL).`,
      '',
    ].join('\n'),
  );
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

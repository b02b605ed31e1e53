import Fastify from 'fastify';
import { loadConfig, SIMULATOR_IDENTITY } from '../core/config';
import { createLogger } from '../core/logger';
import { simulatorPlugin } from '../simulator/simulator.plugin';

/**
 * `npm run simulator [port]`: the WeChat simulator alone, on the given port (default 4001). Point a server at it
 * with WECHAT_APPID/WECHAT_SECRET/WECHAT_MCH_ID/WECHAT_PAY_KEY equal to the simulator's (SIMULATOR_IDENTITY in
 * src/core/config.ts) and WECHAT_API_BASE=WECHAT_PAY_BASE=http://127.0.0.1:4001. SIMULATOR_XML_LAYOUT sets how its pay
 * XML is laid out.
 */
async function main() {
  const config = loadConfig();
  const port = Number(process.argv[2] ?? 4001);
  const app = Fastify({ loggerInstance: createLogger(config.logLevel) });
  await app.register(simulatorPlugin, {
    appid: config.wechat.appid,
    secret: config.wechat.secret,
    mchId: config.pay?.mchId ?? SIMULATOR_IDENTITY.mchId,
    payKey: config.pay?.key ?? SIMULATOR_IDENTITY.payKey,
    xmlLayout: config.simulatorXmlLayout,
  });
  // A fake with a published secret and pay key: loopback only, unless HOST says otherwise on purpose.
  await app.listen({ port, host: process.env.HOST?.trim() ? config.host : '127.0.0.1' });
  app.log.info({ appid: config.wechat.appid }, 'WeChat simulator listening');
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { registerLoginRoutes } from './login.routes';
import { NotifyDelivery } from './notify-delivery';
import { PayState } from './pay-state';
import { readBodiesAsText } from './pay-wire';
import { registerPayDevRoutes, registerPayWireRoutes, type SimulatorPayOptions } from './pay.routes';
import { RefundLedger } from './refund-state';
import {
  RefundDesk,
  registerRefundDevRoutes,
  registerRefundWireRoutes,
  type SimulatorRefundOptions,
} from './refund.routes';
import { registerPhoneRoutes } from './phone.routes';
import { registerContentRoutes } from './content.routes';
import { registerMediaRoutes } from './media.routes';
import { registerTokenRoutes } from './token.routes';
import { SimulatorState } from './state';
import { layoutPicker, type SimulatorXmlLayout } from './xml-layout';
import { generateV3Platform, V3CertificateDesk, type V3Platform } from './v3-platform';
import { registerV3DevRoutes, registerV3Routes, type SimulatorV3Options, V3RefundDesk, V3Wire } from './v3.routes';

export interface SimulatorOptions {
  appid: string;
  secret: string;
  /** The merchant the simulated WeChat Pay serves, and its API key. */
  mchId: string;
  payKey: string;
  /** Multiplies WeChat's notify retry delays (15 s … 6 h); the default 0.001 plays the whole schedule in ~87 s. */
  notifyRetryScale?: number;
  /** How its pay answers and notifies are laid out (SIMULATOR_XML_LAYOUT); WeChat's own by default. */
  xmlLayout?: SimulatorXmlLayout;
  /** The mini-program's message push URL, where media check results go (read per push); undefined: nowhere. */
  pushUrl?: () => string | undefined;
  /** The token pushes are signed with (WECHAT_PUSH_TOKEN on the receiving server). */
  pushToken?: string;
  /**
   * PEM contents (not paths). When given, the pay API (unifiedorder, orderquery, closeorder, refundquery and
   * /secapi/pay/refund) is also served over HTTPS on 127.0.0.1, on a port of its own, asking every client for a
   * certificate: /secapi wants one signed by `ca` for this merchant (CN = mchId). Same ledger as over HTTP.
   */
  tls?: { cert: string; key: string; ca: string };
  /** Told `https://127.0.0.1:<port>` once the HTTPS listener is up (WECHAT_PAY_BASE for refunds). */
  onHttps?: (baseUrl: string) => void;
  /** How long a refund stays PROCESSING before it settles and its notify goes out (default 50 ms). */
  refundSettleMs?: number;
  /**
   * WeChat Pay v3 (JSON, RSA signatures) beside v2 on the same ledger: the merchant's public key and serial it checks
   * requests against, and the APIv3 key it seals notifies with. A platform key pair (public-key mode) is made at start.
   */
  v3?: SimulatorV3Options;
  /** Told the platform's public half at start (WECHAT_PAY_PUBLIC_KEY_PEM's contents and WECHAT_PAY_PUBLIC_KEY_ID). */
  onV3Platform?: (platform: V3Platform) => void;
}

/**
 * A fake of WeChat's servers in their real wire formats, plus /dev/* endpoints that play the phone.
 * Mounted under /simulator in the app when no real WeChat is configured, or served alone by `npm run simulator`.
 */
export async function simulatorPlugin(app: FastifyInstance, opts: SimulatorOptions) {
  const state = new SimulatorState();
  registerLoginRoutes(app, { ...opts, state });
  const tokens = registerTokenRoutes(app, opts);
  registerPhoneRoutes(app, { appid: opts.appid, tokens });
  registerContentRoutes(app, { tokens, state });
  registerMediaRoutes(app, {
    tokens,
    state,
    appid: opts.appid,
    pushUrl: opts.pushUrl ?? (() => undefined),
    pushToken: opts.pushToken,
  });

  const delivery = new NotifyDelivery({ retryScale: opts.notifyRetryScale ?? 0.001 });
  const identity = { appid: opts.appid, mchId: opts.mchId, payKey: opts.payKey, layout: layoutPicker(opts.xmlLayout) };
  // One ledger behind both listeners: an order paid over HTTP is refunded over HTTPS.
  const payState = new PayState();
  const refunds = new RefundLedger(payState);
  const deskOptions = { ...identity, refunds, delivery, settleMs: opts.refundSettleMs ?? 50 };
  const v3 = opts.v3
    ? new V3Wire({
        appid: opts.appid,
        mchId: opts.mchId,
        v3: opts.v3,
        platform: generateV3Platform(),
        certificates: new V3CertificateDesk(opts.v3.certificates),
        refunds,
      })
    : undefined;
  const desk = v3 ? new V3RefundDesk(deskOptions, v3, delivery) : new RefundDesk(deskOptions);
  const pay: SimulatorPayOptions = {
    ...identity,
    state: payState,
    refunds,
    delivery,
    ...(v3 ? { v3: { verifyPaySign: v3.verifyPaySign, payNotify: v3.payNotify } } : {}),
  };
  const refund: SimulatorRefundOptions = { ...identity, refunds, desk };
  // Pending notify retries and refund settlements must not outlive the server, nor hold up its close.
  app.addHook('onClose', async () => {
    desk.close();
    delivery.close();
  });

  // The XML parser lives in a child scope, so it reaches neither the app nor the simulator's JSON routes.
  const wire = async (scope: FastifyInstance) => {
    readBodiesAsText(scope);
    registerPayWireRoutes(scope, pay);
    registerRefundWireRoutes(scope, refund);
  };
  app.register(wire);
  registerPayDevRoutes(app, pay);
  registerRefundDevRoutes(app, refund);
  // v3 in a scope of its own too: its parser keeps JSON as text, its hooks check every request and sign every answer.
  const v3Wire = (prefix: string) => async (scope: FastifyInstance) => {
    if (v3) registerV3Routes(scope, { wire: v3, state: payState, refunds, desk, prefix });
  };
  if (v3) {
    app.register(v3Wire(app.prefix));
    registerV3DevRoutes(app, { wire: v3, state: payState, refunds, desk: desk as V3RefundDesk, delivery });
    const { publicKeyPem, publicKeyId } = v3.opts.platform;
    opts.onV3Platform?.({ publicKeyPem, publicKeyId });
  }

  if (opts.tls) {
    const https = await listenHttps(opts.tls, async (scope) => {
      await scope.register(wire);
      await scope.register(v3Wire(''));
    });
    app.addHook('onClose', async () => https.close());
    opts.onHttps?.(`https://127.0.0.1:${(https.server.address() as AddressInfo).port}`);
  }
}

/**
 * WeChat Pay's HTTPS side. A client certificate is asked for but not required by the handshake (rejectUnauthorized:
 * false): /secapi then answers what is wrong with it in WeChat's XML, which a dropped connection would not say.
 */
async function listenHttps(
  tls: NonNullable<SimulatorOptions['tls']>,
  wire: (scope: FastifyInstance) => Promise<void>,
): Promise<FastifyInstance> {
  const https = Fastify({
    https: { cert: tls.cert, key: tls.key, ca: tls.ca, requestCert: true, rejectUnauthorized: false },
    // A merchant client keeps its connection alive; closing must not wait for it.
    forceCloseConnections: true,
  });
  await https.register(wire);
  await https.listen({ port: 0, host: '127.0.0.1' });
  return https;
}

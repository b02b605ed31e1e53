import type { FastifyInstance } from 'fastify';
import { registerLoginRoutes } from './login.routes';
import { NotifyDelivery } from './notify-delivery';
import { PayState } from './pay-state';
import { registerPayRoutes } from './pay.routes';
import { registerPhoneRoutes } from './phone.routes';
import { registerContentRoutes } from './content.routes';
import { registerMediaRoutes } from './media.routes';
import { registerTokenRoutes } from './token.routes';
import { SimulatorState } from './state';
import { layoutPicker, type SimulatorXmlLayout } from './xml-layout';

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
  // Pending notify retries must not outlive the server, nor hold up its close.
  app.addHook('onClose', async () => delivery.close());
  registerPayRoutes(app, {
    appid: opts.appid,
    mchId: opts.mchId,
    payKey: opts.payKey,
    state: new PayState(),
    delivery,
    layout: layoutPicker(opts.xmlLayout),
  });
}

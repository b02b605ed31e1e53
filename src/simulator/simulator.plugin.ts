import type { FastifyInstance } from 'fastify';
import { registerLoginRoutes } from './login.routes';
import { SimulatorState } from './state';

export interface SimulatorOptions {
  appid: string;
  secret: string;
  /** The merchant the simulated WeChat Pay serves, and its API key. */
  mchId: string;
  payKey: string;
}

/**
 * A fake of WeChat's servers in their real wire formats, plus /dev/* endpoints that play the phone.
 * Mounted under /simulator in the app when no real WeChat is configured, or served alone by `npm run simulator`.
 */
export async function simulatorPlugin(app: FastifyInstance, opts: SimulatorOptions) {
  const state = new SimulatorState();
  registerLoginRoutes(app, { ...opts, state });
}

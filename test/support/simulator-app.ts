import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { SIMULATOR_IDENTITY } from '../../src/core/config';
import { simulatorPlugin, type SimulatorOptions } from '../../src/simulator/simulator.plugin';
import { captureV3Platform, type V3Platform } from '../../src/simulator/v3-platform';
import type { SimulatorV3Options } from '../../src/simulator/v3.routes';

/** The mini-program and merchant the simulator suites register the simulator for: SIMULATOR_IDENTITY's. */
export const SIM_ID = {
  appid: SIMULATOR_IDENTITY.appid,
  secret: SIMULATOR_IDENTITY.secret,
  mchId: SIMULATOR_IDENTITY.mchId,
  payKey: SIMULATOR_IDENTITY.payKey,
};

/** Listens on a free loopback port and answers the app's base URL. */
export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

/**
 * The simulator alone on a Fastify app of its own (no server under test), for SIM_ID and `options`. `before` runs on
 * the app before the simulator is registered, e.g. to add a hook its routes get.
 */
export async function listenSimulator(
  options: Partial<SimulatorOptions> = {},
  before?: (app: FastifyInstance) => void,
): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify();
  before?.(app);
  await app.register(simulatorPlugin, { ...SIM_ID, ...options });
  return { app, url: await listen(app) };
}

/** The simulator with WeChat Pay v3 for `v3`'s merchant key, and the platform key it made at start. */
export async function listenV3Simulator(
  v3: SimulatorV3Options,
  options: Partial<SimulatorOptions> = {},
): Promise<{ app: FastifyInstance; url: string; platform: V3Platform }> {
  const capture = captureV3Platform();
  const started = await listenSimulator({ v3, onV3Platform: capture.onV3Platform, ...options });
  return { ...started, platform: capture.get() };
}

export interface Received {
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A tiny merchant (node:http, not our server) on a free loopback port, where the simulator's notifies go: each
 * request, body read whole, is given to `answer`, whose status (and JSON body, if any) is the reply.
 */
export async function startMerchant(
  answer: (received: Received) => { status: number; json?: unknown } = () => ({ status: 204 }),
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const { status, json } = answer({ url: req.url ?? '', headers: req.headers, body });
      if (json === undefined) res.writeHead(status).end();
      else res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(json));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface V3Answer {
  status: number;
  text: string;
  headers: Headers;
  /** The answer parsed, or {} when it is empty or not JSON (then the test reads `text`). */
  json: Record<string, unknown>;
}

/**
 * A WeChat Pay v3 call as a merchant sends it, with the Authorization the caller signed (ours or another SDK's):
 * `text` is the JSON body on a POST, exactly as it was signed.
 */
export async function sendV3(
  base: string,
  method: 'GET' | 'POST',
  url: string,
  text: string,
  authorization: string,
): Promise<V3Answer> {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: {
      authorization,
      accept: 'application/json',
      ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
    },
    ...(method === 'POST' ? { body: text } : {}),
  });
  const answer = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = answer ? (JSON.parse(answer) as Record<string, unknown>) : {};
  } catch {
    // Not JSON: the test reads `text`.
  }
  return { status: res.status, text: answer, headers: res.headers, json };
}

import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';
import { Writable } from 'node:stream';
import { createApp, type App, SIMULATOR_PREFIX } from '../../src/app';
import { loadConfig, type EnvInput } from '../../src/core/config';
import { createLogger } from '../../src/core/logger';
import { freshDatabase, redisNamespace, target, type TestDatabase } from './target';

export interface GqlResult<T = Record<string, unknown>> {
  status: number;
  text: string;
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; [k: string]: unknown } }[];
}

export interface TestServer {
  server: App;
  url: string;
  /** Every log line this server wrote, raw JSON. */
  logs: string[];
  /** Every response body this harness received from the server. */
  responses: string[];
  gql<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    token?: string,
    headers?: Record<string, string>,
  ): Promise<GqlResult<T>>;
  /** Developer endpoints of the simulator (the phone's part). */
  sim: {
    loginCode(body?: Record<string, unknown>): Promise<{ code: string; openid: string }>;
    userData(body: Record<string, unknown>): Promise<{ encryptedData: string; iv: string }>;
  };
  /** wx.login + the login mutation, for tests that need a logged-in user. */
  login(openid?: string): Promise<{ token: string; openid: string; userId: string }>;
  close(): Promise<void>;
}

export interface StartOptions {
  env?: EnvInput;
  /** Share a database between servers; by default each server gets a fresh one, dropped on close. */
  database?: TestDatabase;
}

/** Boots the real app on port 0 against this project's target, with logs captured in memory. */
export async function startServer(options: StartOptions = {}): Promise<TestServer> {
  const database = options.database ?? (await freshDatabase());
  const env: EnvInput = {
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    DATABASE_URL: database.url,
    // Generous login and payment limits: suites log in and pay hundreds of times. The limits have their own tests.
    LOGIN_RATE_PER_IP: '1000000',
    LOGIN_RATE_PER_OPENID: '1000',
    PAY_RATE_PER_USER: '1000000',
    // No sweeper unless a suite asks for one: its orderquery would settle orders a test expects to find PENDING.
    SWEEP_INTERVAL_SECONDS: '0',
    // The simulator changes its pay XML layout with every message, so each suite meets all of WeChat's layouts.
    SIMULATOR_XML_LAYOUT: 'vary',
    ...(target.kind === 'services' ? { REDIS_URL: target.redisUrl, REDIS_NAMESPACE: redisNamespace } : {}),
    ...options.env,
  };
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(line);
      cb();
    },
  });
  const config = loadConfig(env);
  const server = await createApp(config, { logger: createLogger(config.logLevel, sink) });
  const url = await server.listen();
  recordServicesRun(server);
  const responses: string[] = [];

  const post = async (path: string, body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    responses.push(text);
    return { status: res.status, text };
  };

  const gql = async <T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
    token?: string,
    headers: Record<string, string> = {},
  ): Promise<GqlResult<T>> => {
    const res = await post(
      '/graphql',
      { query, variables },
      { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    );
    const body = JSON.parse(res.text) as Pick<GqlResult<T>, 'data' | 'errors'>;
    return { status: res.status, text: res.text, data: body.data, errors: body.errors };
  };

  const simPost = async <T>(path: string, body: unknown): Promise<T> => {
    const res = await post(SIMULATOR_PREFIX + path, body);
    if (res.status !== 200) throw new Error(`simulator ${path}: ${res.status} ${res.text}`);
    return JSON.parse(res.text) as T;
  };
  const sim: TestServer['sim'] = {
    loginCode: (body = {}) => simPost('/dev/login-code', body),
    userData: (body) => simPost('/dev/user-data', body),
  };

  return {
    server,
    url,
    logs,
    responses,
    gql,
    sim,
    async login(openid) {
      const { code, openid: id } = await sim.loginCode(openid ? { openid } : {});
      const res = await gql<{ login: { token: string; user: { id: string } } }>(LOGIN, { code });
      if (!res.data?.login) throw new Error(`login failed: ${res.text}`);
      return { token: res.data.login.token, openid: id, userId: res.data.login.user.id };
    },
    async close() {
      await server.close();
      if (!options.database) await database.drop();
    },
  };
}

export const LOGIN = `mutation Login($code: String!) { login(code: $code) { token expiresAt user { id openid unionid nickname } } }`;
export const ME = `query Me { me { id openid unionid nickname avatarUrl gender language city province country createdAt updatedAt } }`;
export const UPDATE_PROFILE = `mutation UpdateProfile($iv: String!, $encryptedData: String!) { updateProfile(iv: $iv, encryptedData: $encryptedData) { id nickname avatarUrl gender language city province country unionid } }`;
export const LOGOUT = `mutation Logout { logout }`;

export const codeOf = (r: GqlResult) => r.errors?.[0]?.extensions?.code;

/**
 * CI must prove the MariaDB/Redis suites really ran (not skipped): each server that comes up on both
 * appends its suite's path to TEST_SERVICES_LOG, which .ci/run checks against the list of suites.
 */
function recordServicesRun(server: App) {
  if (server.config.database.kind === 'mysql' && server.cache.kind === 'redis') markServicesSuite();
}

/** For suites that run servers as separate processes on MariaDB + Redis (they have no App to inspect). */
export function markServicesSuite() {
  const log = process.env.TEST_SERVICES_LOG;
  if (!log) return;
  const suite = relative(process.cwd(), expect.getState().testPath ?? 'unknown');
  appendFileSync(log, `${suite}\n`);
}

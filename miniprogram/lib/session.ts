import { LoginDocument } from '../gql/graphql';
import { execute } from './graphql';
import * as wxa from './wx-async';

const STORAGE_KEY = 'wxmp.session';

export interface StoredSession {
  token: string;
  /** ISO time from the server; the server stays the judge (an early UNAUTHENTICATED still means log in). */
  expiresAt: string;
  openid: string;
  userId: string;
}

/** The stored session, unless it is missing, malformed or past its expiresAt (then it is no session at all). */
export function storedSession(now: () => number = Date.now): StoredSession | undefined {
  // getStorageSync answers '' for a key it does not have.
  const value: unknown = wx.getStorageSync(STORAGE_KEY);
  if (!value || typeof value !== 'object') return undefined;
  const s = value as Partial<StoredSession>;
  if (!(s.token && s.expiresAt && s.openid && s.userId)) return undefined;
  // An unparsable time is NaN, which is never later than now: treated as expired.
  return Date.parse(s.expiresAt) > now() ? (s as StoredSession) : undefined;
}

export function forgetSession() {
  wx.removeStorageSync(STORAGE_KEY);
}

let inFlight: Promise<StoredSession> | undefined;

/**
 * wx.login, then the login mutation; stores and returns the new session. Single-flight: callers that arrive while a
 * login runs share it, because a second wx.login would rotate the session_key under the first one's feet.
 */
export function login(): Promise<StoredSession> {
  if (!inFlight) {
    inFlight = (async () => {
      const code = await wxa.login();
      const { login: payload } = await execute(LoginDocument, { code }, undefined);
      const session: StoredSession = {
        token: payload.token,
        expiresAt: payload.expiresAt,
        openid: payload.user.openid,
        userId: payload.user.id,
      };
      wx.setStorageSync(STORAGE_KEY, session);
      return session;
    })().finally(() => {
      inFlight = undefined;
    });
  }
  return inFlight;
}

/** The token to send now: the stored one, or a login's (shared with any login already running). */
export async function currentToken(): Promise<string> {
  if (inFlight) return (await inFlight).token;
  return storedSession()?.token ?? (await login()).token;
}

/**
 * Logs in again because `staleToken` was refused, unless someone already replaced it: N requests that fail together
 * cause one login, even when some failures arrive after that login has finished.
 */
export async function relogin(staleToken: string): Promise<void> {
  if (inFlight) {
    await inFlight;
    return;
  }
  const now = storedSession();
  if (now && now.token !== staleToken) return;
  await login();
}

export type LaunchResult = 'kept' | 'logged-in';

/**
 * App start: keep the stored token while it has not expired and WeChat's session is still valid (wx.checkSession);
 * otherwise log in. A failed checkSession means WeChat's session_key expired, so encrypted data from this phone would
 * no longer match the server's session even when the token is fine.
 */
export async function startSession(now: () => number = Date.now): Promise<LaunchResult> {
  const stored = storedSession(now);
  if (stored && (await wxa.checkSession())) return 'kept';
  await login();
  return 'logged-in';
}

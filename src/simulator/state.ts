import { randomBytes, randomUUID } from 'node:crypto';

/** A fault a test or developer attaches to one login code, played when that code is exchanged. */
export interface LoginFault {
  /** Answer after this many ms (a WeChat that is too slow). */
  delayMs?: number;
  /** Answer with this errcode instead of a session (e.g. 45011, 40226, -1). */
  errcode?: number;
  /** Answer with a body that is not JSON. */
  garbage?: boolean;
  /** Answer with this HTTP status (e.g. 502). */
  httpStatus?: number;
}

interface CodeEntry {
  openid: string;
  expiresAt: number;
  used: boolean;
  fault?: LoginFault;
}

interface SimUser {
  openid: string;
  unionid?: string;
  sessionKey?: string;
  /** When a login last redeemed a code for this user: WeChat's APIs that take an openid want a recent visit. */
  loggedInAt?: number;
}

export const CODE_TTL_MS = 5 * 60 * 1000;

/** In-memory state of the simulated WeChat: issued codes and each user's current session_key. */
export class SimulatorState {
  private codes = new Map<string, CodeEntry>();
  private users = new Map<string, SimUser>();

  constructor(private readonly now: () => number = Date.now) {}

  mintCode(openid = newOpenid(), unionid?: string, fault?: LoginFault): { code: string; openid: string } {
    this.sweep();
    return this.mint(openid, unionid, fault);
  }

  /** `count` codes in one go (one sweep, not one per code): each for a new user, or all for `openid`. */
  mintCodes(count: number, openid?: string): { code: string; openid: string }[] {
    this.sweep();
    return Array.from({ length: count }, () => this.mint(openid ?? newOpenid()));
  }

  private mint(openid: string, unionid?: string, fault?: LoginFault): { code: string; openid: string } {
    const user = this.users.get(openid) ?? { openid };
    if (unionid) user.unionid = unionid;
    this.users.set(openid, user);
    const code = randomBytes(24).toString('base64url');
    this.codes.set(code, { openid, expiresAt: this.now() + CODE_TTL_MS, used: false, fault });
    return { code, openid };
  }

  /** Single use, 5 minutes. A used code answers 40163 until it would have expired, then 40029 like any unknown one. */
  redeem(
    code: string,
  ):
    | { ok: true; openid: string; unionid?: string; sessionKey: string; fault?: LoginFault }
    | { ok: false; errcode: 40029 | 40163; fault?: LoginFault } {
    const entry = this.codes.get(code);
    if (!entry || entry.expiresAt <= this.now()) return { ok: false, errcode: 40029 };
    if (entry.used) return { ok: false, errcode: 40163 };
    entry.used = true;
    const user = this.users.get(entry.openid)!;
    // WeChat may rotate session_key on every login; the simulator always does, which is the hard case.
    user.sessionKey = randomBytes(16).toString('base64');
    user.loggedInAt = this.now();
    return { ok: true, openid: user.openid, unionid: user.unionid, sessionKey: user.sessionKey, fault: entry.fault };
  }

  /** The fault of a code, without redeeming it. */
  faultOf(code: string): LoginFault | undefined {
    return this.codes.get(code)?.fault;
  }

  user(openid: string): SimUser | undefined {
    return this.users.get(openid);
  }

  /** Whether this openid logged in within `ms` (msg_sec_check wants a visit within 2 hours). */
  visitedWithin(openid: string, ms: number): boolean {
    const at = this.users.get(openid)?.loggedInAt;
    return at !== undefined && this.now() - at <= ms;
  }

  private sweep() {
    const now = this.now();
    for (const [code, entry] of this.codes) if (entry.expiresAt <= now) this.codes.delete(code);
  }
}

/** Looks like a real openid: 'o' + 27 url-safe characters. */
export function newOpenid(): string {
  return 'o' + randomBytes(21).toString('base64url').slice(0, 27);
}

export function rid(): string {
  return randomUUID().slice(0, 18);
}

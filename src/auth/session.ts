import { createHash, randomBytes } from 'node:crypto';
import type { Cache } from '../core/cache';

/** What a token unlocks. Lives only in the session store; sessionKey never leaves the server. */
export interface Session {
  userId: number;
  openid: string;
  sessionKey: string;
}

/** Opaque bearer token: 256 random bits, base64url. Unguessable, unlike md5-of-the-clock. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The store is keyed by a hash of the token, so a leaked store dump holds no usable tokens. */
export function sessionKeyFor(token: string): string {
  return `sess:${createHash('sha256').update(token).digest('base64url')}`;
}

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

export function createSessionStore(cache: Cache, ttlSeconds: number) {
  return {
    async issue(session: Session): Promise<{ token: string; expiresAt: Date }> {
      const token = newToken();
      const ttlMs = ttlSeconds * 1000;
      const expiresAt = new Date(Date.now() + ttlMs);
      await cache.set(sessionKeyFor(token), session, ttlMs);
      return { token, expiresAt };
    },
    /** Unknown, expired and revoked tokens all come back undefined. Malformed ones skip the store. */
    async load(token: string): Promise<Session | undefined> {
      if (!TOKEN_SHAPE.test(token)) return undefined;
      return cache.get<Session>(sessionKeyFor(token));
    },
    async revoke(token: string): Promise<void> {
      await cache.delete(sessionKeyFor(token));
    },
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;

/** `Authorization: Bearer <token>` → token, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

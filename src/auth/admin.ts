import { createHash } from 'node:crypto';

/** The SHA-256 hex digest ADMIN_TOKEN_HASHES lists for a bearer token (`printf %s "$token" | sha256sum`). */
export function adminTokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * Is this bearer token an operator's? The configuration holds only digests, so it never holds a usable token; the
 * lookup is on the digest, which tells a timing observer nothing about the token.
 */
export function isAdminToken(token: string, hashes: ReadonlySet<string>): boolean {
  return hashes.size > 0 && hashes.has(adminTokenHash(token));
}

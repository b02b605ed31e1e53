import type { TestServer } from './server';

/** Collects the secrets a suite saw, then checks that no response body or log line carried one. */
export class SecretWatch {
  private secrets = new Set<string>();

  /** Records the session_key behind a token, read from the server's own session store. */
  async watchToken(server: TestServer, token: string) {
    this.secrets.add(token);
    const session = await server.server.services.sessions.load(token);
    if (session) this.secrets.add(session.sessionKey);
  }

  add(secret: string) {
    this.secrets.add(secret);
  }

  get size() {
    return this.secrets.size;
  }

  /** Tokens legitimately appear in login responses, so only session keys and others are checked there. */
  leaks(server: TestServer, { allowTokensInResponses = true } = {}): string[] {
    const found: string[] = [];
    for (const secret of this.secrets) {
      const isToken = /^[A-Za-z0-9_-]{43}$/.test(secret);
      // base64 session keys may also appear JSON-escaped ("/" → "\/" never happens in JSON.stringify, but be safe).
      const forms = [secret, secret.replace(/\//g, '\\/')];
      for (const line of server.logs) if (forms.some((f) => line.includes(f))) found.push(`log: ${line.slice(0, 200)}`);
      if (!(isToken && allowTokensInResponses)) {
        for (const body of server.responses)
          if (forms.some((f) => body.includes(f))) found.push(`response: ${body.slice(0, 200)}`);
      }
    }
    return found;
  }
}

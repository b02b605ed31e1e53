import type { Server } from 'node:http';

/**
 * Resolves when `server` receives a request whose URL contains `path`. Tests that must act while a call is in
 * flight wait on this rather than a sleep: on a loaded machine a sleep can end before the call was made.
 */
export function arrivalOf(server: Server, path: string): Promise<void> {
  return new Promise((resolve) => {
    const onRequest = (req: { url?: string }) => {
      if (!req.url?.includes(path)) return;
      server.off('request', onRequest);
      resolve();
    };
    server.on('request', onRequest);
  });
}

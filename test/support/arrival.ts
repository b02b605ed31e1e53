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

/** `arrival`, or a clear failure if `request` settles first (it never made the call the test waits for). */
export function beforeAnswer(arrival: Promise<void>, request: Promise<unknown>, what: string): Promise<void> {
  const answered = request.then(
    () => Promise.reject(new Error(`answered before ${what}`)),
    (err) => Promise.reject(new Error(`failed before ${what}: ${err}`)),
  );
  answered.catch(() => undefined);
  return Promise.race([arrival, answered]);
}

import 'reflect-metadata';
import { createApp } from './app';
import { ConfigError, loadConfig } from './core/config';

/** `npm start`: validate config, build the app, listen, and shut down cleanly on SIGTERM/SIGINT. */
async function main() {
  const config = loadConfig();
  const server = await createApp(config);
  await server.listen();
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ signal }, 'shutting down');
    const exit = (code: number) => server.logger.flush(() => process.exit(code));
    server.close().then(
      () => exit(0),
      (err) => {
        server.app.log.error({ err }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  if (err instanceof ConfigError) console.error(err.message);
  else console.error('failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});

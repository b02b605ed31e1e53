import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFlagsOf } from '../../bench/lib/start-flags';

export interface ServerProcess {
  url: string;
  output: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): void;
}

/**
 * The built server (dist/main.js) as a separate OS process, as production runs it: with `npm start`'s node flags
 * (package.json's `start`). `npm test` builds first.
 * Only the given env reaches it (plus PATH), so nothing leaks in from the developer's shell.
 */
export async function spawnServer(env: Record<string, string>): Promise<ServerProcess> {
  const root = join(__dirname, '..', '..');
  const flags = startFlagsOf(readFileSync(join(root, 'package.json'), 'utf8'));
  const child = spawn(process.execPath, [...flags, join(root, 'dist', 'main.js')], {
    env: {
      PATH: process.env.PATH ?? '',
      PORT: '0',
      HOST: '127.0.0.1',
      LOGIN_RATE_PER_IP: '1000000',
      PAY_RATE_PER_USER: '1000000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  for (let i = 0; i < 150; i++) {
    // The startup summary's first words (app.ts): "listening on http://127.0.0.1:<port> · database: …".
    const url = /"msg":"listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1];
    if (url) return { url, output: () => output, exited, kill: (signal = 'SIGTERM') => child.kill(signal) };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`server process did not start:\n${output}`);
}

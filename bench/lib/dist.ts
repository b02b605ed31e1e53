import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { startFlagsOf } from './start-flags.ts';

/**
 * The built server's pure helpers (pay sign, pay XML, encrypted user data), loaded from dist/ at run time and typed
 * from their sources. The baseline uses them too: they are the same "library" work on both sides, so the comparison
 * measures what sits around them (HTTP, GraphQL, ORM, store), not two implementations of MD5 or AES.
 */
const require = createRequire(import.meta.url);
const load = <T>(path: string): T => require(new URL(`../../dist/${path}`, import.meta.url).pathname) as T;

export const paySignLib = load<typeof import('../../src/wechat/pay-sign.ts')>('wechat/pay-sign.js');
export const payXmlLib = load<typeof import('../../src/wechat/pay-xml.ts')>('wechat/pay-xml.js');
export const userDataLib = load<typeof import('../../src/wechat/user-data.ts')>('wechat/user-data.js');
export const sessionLib = load<typeof import('../../src/auth/session.ts')>('auth/session.js');

/** The simulated WeChat's identity (not secrets: they only open the simulator), from the built config. */
export const SIMULATOR_IDENTITY = load<typeof import('../../src/core/config.ts')>('core/config.js').SIMULATOR_IDENTITY;

/** dist/ paths of the entry points the bench starts as child processes. */
export const DIST = {
  main: new URL('../../dist/main.js', import.meta.url).pathname,
  simulator: new URL('../../dist/cli/simulator.js', import.meta.url).pathname,
  migrate: new URL('../../dist/cli/migrate.js', import.meta.url).pathname,
};

/**
 * The node flags `npm start` gives the server (package.json's `start`: `node <flags> dist/main.js`), so the bench runs
 * the server as it is deployed. `ref`: read them from that commit's package.json instead of this checkout's.
 */
export function serverStartFlags(ref?: string): string[] {
  const root = new URL('../..', import.meta.url).pathname;
  const text = ref
    ? spawnSync('git', ['-C', root, 'show', `${ref}:package.json`], { encoding: 'utf8' }).stdout
    : readFileSync(`${root}/package.json`, 'utf8');
  return startFlagsOf(text);
}

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { SIMULATOR_IDENTITY } from '../../src/core/config';
import { markServicesSuite } from '../support/server';
import { onServices } from '../support/target';

const cli = join(__dirname, '..', '..', 'dist', 'cli', 'simulator.js');

/** `npm run simulator 0` (dist/cli/simulator.js) with only the given env; resolves with its output once it printed its identity or exited. */
function runSimulator(env: Record<string, string>) {
  const child = spawn(process.execPath, [cli, '0'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const ready = new Promise<void>((resolve) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      // Its log line and its printed identity are separate writes: both, in whichever order they arrive.
      if (output.includes('WECHAT_NOTIFY_URL') && output.includes('Server listening at')) resolve();
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => resolve());
  });
  return { ready, exited, output: () => output, stop: () => child.kill('SIGKILL') };
}

describe('npm run simulator', () => {
  // It needs neither MariaDB nor Redis, but .ci/run checks every suite outside test/unit ran in the services project.
  beforeAll(() => {
    if (onServices) markServicesSuite();
  });

  it('listens on loopback only and prints its public identity, for pointing a server at it', async () => {
    const sim = runSimulator({});
    try {
      await sim.ready;
      const out = sim.output();
      expect(out).toContain(`WECHAT_APPID=${SIMULATOR_IDENTITY.appid}`);
      expect(out).toContain(`WECHAT_SECRET=${SIMULATOR_IDENTITY.secret}`);
      expect(out).toContain(`WECHAT_MCH_ID=${SIMULATOR_IDENTITY.mchId}`);
      expect(out).toContain(`WECHAT_PAY_KEY=${SIMULATOR_IDENTITY.payKey}`);
      const base = /WECHAT_API_BASE=(http:\/\/127\.0\.0\.1:(\d+))/.exec(out);
      expect(base).not.toBeNull();
      // It answers as WeChat does on that base: a login code it did not mint is refused in WeChat's JSON.
      const res = await fetch(
        `${base![1]}/sns/jscode2session?appid=${SIMULATOR_IDENTITY.appid}&secret=${SIMULATOR_IDENTITY.secret}&js_code=nope&grant_type=authorization_code`,
      );
      expect(await res.json()).toMatchObject({ errcode: 40029 });
      // Fastify logs one line per address it listens on: bound to 0.0.0.0 it would name every interface.
      expect(out.match(/Server listening at http:\/\/[^"]+/g)).toEqual([`Server listening at ${base![1]}`]);
    } finally {
      sim.stop();
    }
  });

  it('does not print a secret or pay key that came from the environment', async () => {
    const sim = runSimulator({
      WECHAT_APPID: 'wx1234567890abcdef',
      WECHAT_SECRET: 'own-secret-value-0001',
      WECHAT_PAY_KEY: 'k'.repeat(32),
    });
    try {
      await sim.ready;
      const out = sim.output();
      expect(out).toContain('WECHAT_APPID=wx1234567890abcdef');
      expect(out).not.toContain('own-secret-value-0001');
      expect(out).not.toContain('k'.repeat(32));
      expect(out).toContain('WECHAT_SECRET=(from the environment, not shown)');
    } finally {
      sim.stop();
    }
  });

  it('is refused when NODE_ENV=production, with the rule named', async () => {
    const sim = runSimulator({ NODE_ENV: 'production' });
    expect(await sim.exited).toBe(1);
    expect(sim.output()).toContain('WECHAT_SIMULATOR: the WeChat simulator is refused when NODE_ENV=production');
  });
});

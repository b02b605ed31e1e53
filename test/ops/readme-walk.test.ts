import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startServer, type TestServer } from '../support/server';

// README's "Try it with curl" walk, run as written (bash + curl + node) against a real server with the simulator
// mounted: only localhost:4000 is swapped for this server's address.
const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
const walk = /<!-- curl-walk -->\n```sh\n([\s\S]*?)```\n<!-- \/curl-walk -->/.exec(readme)?.[1];

describe("README's curl walk", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when pasted into bash as written, then it logs in, stores the profile, pays through the simulator and ends PAID', async () => {
    expect(walk).toBeDefined();
    const script = walk!.replaceAll('localhost:4000', new URL(t.url).host);
    const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script], { timeout: 30000 });
    // What each README step prints: a GraphQL answer or the simulator's requestPayment answer.
    type Line = {
      data?: { me?: { openid: string }; updateProfile?: unknown; order?: unknown };
      errMsg?: string;
      outTradeNo?: string;
    };
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
    expect(lines).toHaveLength(4);
    expect(lines[0].data?.me?.openid).toMatch(/^o/);
    expect(lines[1].data?.updateProfile).toEqual({ nickname: '测试🐱👍', gender: 1 });
    expect(lines[2]).toMatchObject({ errMsg: 'requestPayment:ok', deliveries: [{ returnCode: 'SUCCESS' }] });
    expect(lines[3].data?.order).toMatchObject({ outTradeNo: lines[2].outTradeNo, amount: 1, status: 'PAID' });
  });
});

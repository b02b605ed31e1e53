import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startServer, type TestServer } from '../support/server';

/** Debian's Chromium (apt: chromium); .ci/run installs it. Playwright's own browser download is never used. */
const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = join(__dirname, '..', '..', 'artifacts');

if (!existsSync(CHROMIUM) && process.env.REQUIRE_BROWSER === '1')
  throw new Error(`REQUIRE_BROWSER=1 but ${CHROMIUM} is missing (apt install chromium)`);
const describeBrowser = existsSync(CHROMIUM) ? describe : describe.skip;

describeBrowser('GraphiQL at GET /graphql, in a real browser, offline', () => {
  let t: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    t = await startServer();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('when a developer opens it, types a query with a Bearer header and runs it, then the answer shows, and nothing outside localhost was requested', async () => {
    const user = await t.login();
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const external: string[] = [];
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1' || url.hostname === 'localhost') return route.continue();
      external.push(url.href);
      return route.abort();
    });
    const page = await context.newPage();
    page.on('websocket', (ws) => {
      if (!/^wss?:\/\/(127\.0\.0\.1|localhost)[:/]/.test(ws.url())) external.push(ws.url());
    });

    const res = await page.goto(`${t.url}/graphql`, { waitUntil: 'load' });
    expect(res?.status()).toBe(200);
    const html = await res!.text();
    // No external host in the HTML, scripts or styles that the page loads.
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)=["']https?:/i);

    // The query editor.
    // The editor itself, not its section: the section shows a spinner until Monaco has loaded, and keys typed
    // into it would be lost.
    const queryEditor = page.locator('.graphiql-query-editor .monaco-editor').first();
    await queryEditor.waitFor({ state: 'visible', timeout: 40000 });
    await queryEditor.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    await page.keyboard.type('{ me { openid nickname } }');

    // The headers editor, for the Bearer token.
    await page.getByText('Headers', { exact: true }).click();
    const headersEditor = page.locator('.graphiql-editor-tool .monaco-editor').last();
    await headersEditor.waitFor({ state: 'visible', timeout: 20000 });
    await headersEditor.click();
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.press('Delete');
    await page.keyboard.type(`{"Authorization": "Bearer ${user.token}`);

    await page.keyboard.press('ControlOrMeta+Enter');
    await page
      .waitForFunction(
        (openid) => document.querySelector('.graphiql-response')?.textContent?.includes(openid),
        user.openid,
        { timeout: 20000 },
      )
      .catch(() => undefined);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'graphiql.png'), fullPage: true });
    const answer = (await page.locator('.graphiql-response').innerText()).replace(/\s+/g, ' ');
    expect(answer).toContain(`"openid": "${user.openid}"`);

    await context.close();
    expect(external).toEqual([]);
    // A 9 MB page in a real browser: jest.config.js's 30 s testTimeout is too tight on a loaded machine.
  }, 90_000);
});

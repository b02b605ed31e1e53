import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bootRendered } from '../support/render';
import { startServer, type TestServer } from '../support/server';
import { missingFromPage, wxmlReferences } from '../support/wxml-references';

const ROOT = join(__dirname, '..', '..', 'miniprogram');
const pages = (JSON.parse(readFileSync(join(ROOT, 'app.json'), 'utf8')) as { pages: string[] }).pages;

/** Every page's template against the page its .ts registers (compiled and loaded as the rendered suites load it). */
describe('mini-program templates: every handler and {{ }} root exists on its page', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each(pages)('when %s is loaded, then its WXML names only methods and data the page has', (route) => {
    const mp = bootRendered(t);
    const page = mp.pageOptions.get(route);
    expect(page).toBeDefined();
    const wxml = readFileSync(join(ROOT, `${route}.wxml`), 'utf8');
    expect(wxmlReferences(wxml).handlers.length).toBeGreaterThan(0);
    expect(missingFromPage(wxml, page!)).toEqual([]);
  });

  it('when a template names a handler or a root its page lacks, then the check reports both', () => {
    const page = { data: { amount: '', result: null }, onPay() {} };
    const wxml = `<view wx:if="{{result}}">{{result.message}} {{amout}}</view>
      <button bindtap="onPay" catch:longpress="onHold" class="{{ busy ? 'a' : 'b' }}">{{ 'x: ' + amount }}</button>`;
    expect(missingFromPage(wxml, page)).toEqual(['handler onHold', '{{ amout }}', '{{ busy }}']);
  });

  it('when expressions hold strings, members, object keys and wx:for names, then only their roots count', () => {
    const wxml = `<view wx:for="{{orders}}" wx:for-item="order">{{order.refunds[0].amount}} {{index}}</view>
      <template is="x" data="{{ a: first, b: 'c.d' }}" /><text>{{ me.name || '未设置' }} {{ true ? n : null }}</text>`;
    expect(wxmlReferences(wxml)).toEqual({ handlers: [], roots: ['first', 'me', 'n', 'orders'] });
  });
});

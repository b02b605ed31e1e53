import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootRendered, type RenderOptions, type RenderedPage } from '../support/render';
import { startServer, type TestServer } from '../support/server';

const MAX_BYTES = 4096;
/** A PNG by its magic bytes (what POST /avatar judges), then noise; see test/avatar/avatar.test.ts. */
const png = (size = 600) =>
  Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52]),
    randomBytes(size - 16),
  ]);

/** The profile card's rows as a person reads them: label → value. */
const rows = (page: RenderedPage) =>
  Object.fromEntries(
    page.all('view', { class: 'row' }).map((row) => {
      const [label, value] = row.children.map((c) => c.text.trim());
      return [label, value];
    }),
  );

/** The profile page as a person sees it, rendered by miniprogram-simulate, against the real server and simulator. */
describe('mini-program profile page, rendered', () => {
  let t: TestServer;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mp-rendered-avatars-'));
    t = await startServer({ env: { AVATAR_DIR: dir, AVATAR_MAX_BYTES: String(MAX_BYTES) } });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function profilePage(options: RenderOptions = {}) {
    const mp = bootRendered(t, options);
    await mp.launch();
    return { mp, page: await mp.open('pages/profile/profile') };
  }

  it('when a user who never synced opens the page, then every row reads as unset and no "null" is shown', async () => {
    const { mp, page } = await profilePage();
    expect(rows(page)).toEqual({
      昵称: '未设置',
      性别: '未知',
      地区: '未设置',
      手机号: '未绑定',
      openid: mp.device.openid,
    });
    expect(page.text()).not.toMatch(/null|undefined/);
    expect(page.all('view', { class: 'error' })).toEqual([]);
    // No avatar yet: the card shows no image (the fill-in button's own image stays, without a src).
    expect(page.all('image', { class: 'avatar' }).map((i) => i.attrs.src ?? null)).toEqual([null]);
  });

  it('when the user syncs from WeChat, then the rows show the nickname, gender, region and avatar', async () => {
    const { page } = await profilePage({
      profile: {
        nickName: '测试🐱👍',
        gender: 1,
        language: 'zh_CN',
        city: 'Shenzhen',
        province: 'Guangdong',
        country: 'China',
        avatarUrl: 'https://thirdwx.qlogo.cn/x/132',
      },
    });
    await page.tap('从微信同步');
    expect(rows(page)).toMatchObject({ 昵称: '测试🐱👍', 性别: '男', 地区: 'China Guangdong Shenzhen' });
    expect(page.all('image', { class: 'avatar' }).map((i) => i.attrs.src)).toEqual([
      'https://thirdwx.qlogo.cn/x/132',
      'https://thirdwx.qlogo.cn/x/132',
    ]);
    expect(page.one('input', { class: 'nickname' }).attrs.value).toBe('测试🐱👍');
    expect(page.all('view', { class: 'error' })).toEqual([]);
  });

  it('when WeChat gives only a country, then the region shows just that part', async () => {
    const { page } = await profilePage({
      profile: {
        nickName: '只有国家',
        gender: 2,
        language: 'zh_CN',
        city: '',
        province: '',
        country: 'China',
        avatarUrl: '',
      },
    });
    await page.tap('从微信同步');
    expect(rows(page)).toMatchObject({ 昵称: '只有国家', 性别: '女', 地区: 'China' });
    expect(page.text()).not.toMatch(/null|undefined/);
  });

  it('when loading the profile fails, then the error line says so in the user’s words', async () => {
    const mp = bootRendered(t);
    await mp.launch();
    mp.device.requestFault = (r) => (r.body?.query?.includes('query Me') ? 'request:fail timeout' : undefined);
    const page = await mp.open('pages/profile/profile');
    expect(page.texts('view', 'error')).toEqual(['网络不可用，请稍后重试']);
    expect(page.text()).not.toContain('加载中');
  });

  it('when the user submits a nickname in the form, then the 昵称 row shows it', async () => {
    const { page } = await profilePage();
    await page.dispatch(page.one('input', { class: 'nickname' }), 'nicknamereview', { pass: true, timeout: false });
    await page.submit(page.one('form'), { nickname: ' 小明🐱 ' });
    expect(rows(page)['昵称']).toBe('小明🐱');
    expect(page.all('view', { class: 'error' })).toEqual([]);
  });

  it('when the nickname is blank, then the form’s error line asks for one', async () => {
    const { page } = await profilePage();
    await page.submit(page.one('form'), { nickname: '  ' });
    expect(page.texts('view', 'error')).toEqual(['请填写昵称']);
  });

  it('when the user allows the phone button, then the 手机号 row shows the number and the button offers to change it', async () => {
    const { mp, page } = await profilePage();
    const button = page.one('button', { text: '绑定微信手机号' });
    expect(button.attrs.openType).toBe('getPhoneNumber');
    await page.dispatch(button, 'getphonenumber', await mp.device.getPhoneNumber({ purePhoneNumber: '13800138000' }));
    expect(rows(page)['手机号']).toBe('13800138000');
    expect(page.all('button', { text: '更换手机号' })).toHaveLength(1);
  });

  it('when the user denies the phone button, then the page says it is not bound and sends nothing', async () => {
    const { mp, page } = await profilePage();
    await page.dispatch(page.one('button', { text: '绑定微信手机号' }), 'getphonenumber', {
      errMsg: 'getPhoneNumber:fail user deny',
    });
    expect(page.texts('view', 'error')).toEqual(['未授权手机号，未绑定']);
    expect(rows(page)['手机号']).toBe('未绑定');
    expect(mp.device.requestsOf('mutation BindPhoneNumber')).toEqual([]);
  });

  it('when the user picks an avatar and WeChat passes it, then both images show the new avatar and no note remains', async () => {
    const { mp, page } = await profilePage();
    const button = page.one('button', { class: 'avatar-button' });
    expect(button.attrs.openType).toBe('chooseAvatar');
    await page.dispatch(button, 'chooseavatar', mp.device.chooseAvatar(png(), 'png'));
    const url = (JSON.parse(mp.device.uploads[0].data!) as { url: string }).url;
    expect(page.all('image', { class: 'avatar' }).map((i) => i.attrs.src)).toEqual([url, url]);
    expect(page.text()).not.toMatch(/审核中|上传中/);
    expect(page.all('view', { class: 'error' })).toEqual([]);
  });

  it('when the picked avatar is over AVATAR_MAX_BYTES, then the form’s error line names the limit', async () => {
    const { mp, page } = await profilePage();
    await page.dispatch(
      page.one('button', { class: 'avatar-button' }),
      'chooseavatar',
      mp.device.chooseAvatar(png(MAX_BYTES + 1), 'png'),
    );
    expect(page.texts('view', 'error')).toEqual(['图片太大，请换一张不超过 4 KB 的图片']);
  });
});

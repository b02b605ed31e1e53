import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SIMULATOR_PREFIX } from '../../src/app';
import { eventually } from '../support/eventually';
import { startServer, type TestServer } from '../support/server';
import { bootMiniProgram, type MiniProgram, type PageHandle } from '../support/miniprogram';
import { startStandaloneSimulator } from '../support/standalone-simulator';
import { redisNamespace } from '../support/target';

const MAX_BYTES = 4096;

/** Images by their magic bytes (what POST /avatar judges), then noise; see test/avatar/avatar.test.ts. */
const PNG_HEAD = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
]);
const JPEG_HEAD = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]);
const GIF_HEAD = Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1');
const image = (head: Buffer, size = 600) => Buffer.concat([head, randomBytes(Math.max(0, size - head.length))]);

const ME_FULL = `query { me { nickname avatarUrl avatarReview phoneNumber phoneCountryCode } }`;
type ServerMe = {
  nickname: string | null;
  avatarUrl: string | null;
  avatarReview: string | null;
  phoneNumber: string | null;
};

interface ProfileView {
  me: {
    nickname: string | null;
    avatarUrl: string | null;
    avatarReview: string | null;
    phoneNumber: string | null;
    phoneCountryCode: string | null;
  };
  fillInMessage: string;
  avatarNote: string;
  phoneMessage: string;
  avatarBusy: boolean;
  nicknameBusy: boolean;
  phoneBusy: boolean;
}
const view = (page: PageHandle) => page.data as ProfileView;

/** The profile page's fill-in (avatar, nickname) and phone button, on a shim phone against the real server. */
describe('mini-program profile page: avatar, nickname and phone number', () => {
  let t: TestServer;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'mp-avatars-'));
    t = await startServer({ env: { AVATAR_DIR: dir, AVATAR_MAX_BYTES: String(MAX_BYTES) } });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const tokenOf = (mp: MiniProgram) => mp.modules.session.storedSession()!.token;
  const serverMe = async (mp: MiniProgram) => (await t.gql<{ me: ServerMe }>(ME_FULL, {}, tokenOf(mp))).data!.me;

  async function profilePage(options: Parameters<typeof bootMiniProgram>[1] = {}) {
    const mp = bootMiniProgram(t, options);
    await mp.launch();
    return { mp, page: await mp.open('pages/profile/profile') };
  }

  describe('nickname', () => {
    it('when the user submits a nickname, then setProfile stores it trimmed (emoji kept) and the page shows it', async () => {
      const { mp, page } = await profilePage();
      await page.event('onNicknameReview', 'nicknamereview', { pass: true, timeout: false });
      await page.submit('onSaveNickname', { nickname: ' 小明🐱 ' });
      expect(view(page)).toMatchObject({ fillInMessage: '', nicknameBusy: false, me: { nickname: '小明🐱' } });
      expect((await serverMe(mp)).nickname).toBe('小明🐱');
      expect(mp.device.requestsOf('mutation SetProfile').map((r) => r.body?.variables)).toEqual([
        { nickname: '小明🐱' },
      ]);
      expect(mp.device.ui.at(-1)).toEqual({ api: 'showToast', options: { title: '昵称已保存', icon: 'success' } });
      // Nothing of the fill-in is kept on the phone: the server has it.
      expect([...mp.device.storage.keys()].filter((k) => k !== 'wxmp.session')).toEqual([]);
      // Reopening the page reads it back from the server.
      expect(view(await mp.open('pages/profile/profile')).me.nickname).toBe('小明🐱');
    });

    it.each([
      ['我爱赌博', '内容未通过微信安全检测（疑似违法犯罪），请修改后重试'],
      ['诈骗小能手', '内容未通过微信安全检测（疑似欺诈），请修改后重试'],
      ['色情', '内容未通过微信安全检测（疑似色情），请修改后重试'],
      ['RiskyWord', '内容未通过微信安全检测（疑似低俗），请修改后重试'],
      ['加微信看看', '内容未通过微信安全检测（疑似广告），请修改后重试'],
    ])(
      'when the nickname %j fails WeChat’s text check, then the page says %s and nothing is stored',
      async (nickname, message) => {
        const { mp, page } = await profilePage();
        await page.submit('onSaveNickname', { nickname: '先前的' });
        await page.submit('onSaveNickname', { nickname });
        expect(view(page)).toMatchObject({ fillInMessage: message, nicknameBusy: false, me: { nickname: '先前的' } });
        expect(mp.device.requestsOf('mutation SetProfile').map((r) => r.errorCodes)).toEqual([[], ['CONTENT_RISKY']]);
        expect((await serverMe(mp)).nickname).toBe('先前的');
      },
    );

    it('when the nickname is over 32 characters, then the server’s BAD_USER_INPUT reads as a nickname rule and nothing is stored', async () => {
      const { mp, page } = await profilePage();
      await page.submit('onSaveNickname', { nickname: '长'.repeat(33) });
      expect(view(page).fillInMessage).toBe('昵称须为 1 到 32 个字，且不含控制字符');
      expect(mp.device.requestsOf('mutation SetProfile').map((r) => r.errorCodes)).toEqual([['BAD_USER_INPUT']]);
      expect((await serverMe(mp)).nickname).toBeNull();
    });

    it('when the nickname is blank or WeChat’s nickname review refused it, then the page says so and sends nothing', async () => {
      const { mp, page } = await profilePage();
      await page.submit('onSaveNickname', { nickname: '   ' });
      expect(view(page).fillInMessage).toBe('请填写昵称');
      await page.event('onNicknameReview', 'nicknamereview', { pass: false, timeout: false });
      await page.submit('onSaveNickname', { nickname: '某昵称' });
      expect(view(page).fillInMessage).toBe('该昵称未通过微信审核，请换一个');
      expect(mp.device.requestsOf('mutation SetProfile')).toEqual([]);
      // A review that timed out lets the server's check decide.
      await page.event('onNicknameReview', 'nicknamereview', { pass: false, timeout: true });
      await page.submit('onSaveNickname', { nickname: '某昵称' });
      expect(view(page)).toMatchObject({ fillInMessage: '', me: { nickname: '某昵称' } });
    });
  });

  describe('phone number', () => {
    it('when the user allows the getPhoneNumber button, then its code is bound and the page shows the number', async () => {
      const { mp, page } = await profilePage();
      expect(view(page).me.phoneNumber).toBeNull();
      const detail = await mp.device.getPhoneNumber({ purePhoneNumber: '13800138000' });
      await page.event('onGetPhoneNumber', 'getphonenumber', detail);
      expect(view(page)).toMatchObject({
        phoneMessage: '',
        phoneBusy: false,
        me: { phoneNumber: '13800138000', phoneCountryCode: '86' },
      });
      expect((await serverMe(mp)).phoneNumber).toBe('13800138000');
      expect(mp.device.requestsOf('mutation BindPhoneNumber').map((r) => r.body?.variables)).toEqual([
        { code: detail.code },
      ]);
      expect(mp.device.ui.at(-1)).toEqual({ api: 'showToast', options: { title: '手机号已绑定', icon: 'success' } });
    });

    it('when the button’s code is sent a second time, then WECHAT_CODE_INVALID asks for the button again and the number stays', async () => {
      const { mp, page } = await profilePage();
      const first = await mp.device.getPhoneNumber({ purePhoneNumber: '13900000001' });
      await page.event('onGetPhoneNumber', 'getphonenumber', first);
      expect(view(page).me.phoneNumber).toBe('13900000001');
      await page.event('onGetPhoneNumber', 'getphonenumber', first);
      expect(view(page)).toMatchObject({
        phoneMessage: '手机号授权已失效，请重新点击获取手机号',
        phoneBusy: false,
        me: { phoneNumber: '13900000001' },
      });
      expect(mp.device.requestsOf('mutation BindPhoneNumber').map((r) => r.errorCodes)).toEqual([
        [],
        ['WECHAT_CODE_INVALID'],
      ]);
      expect((await serverMe(mp)).phoneNumber).toBe('13900000001');
    });

    it.each([
      [{ deny: true }, '未授权手机号，未绑定'],
      [{ noQuota: true }, '暂时无法获取手机号，请稍后再试'],
    ])('when the button gives no code (%j), then the page says %s and calls nothing', async (options, message) => {
      const { mp, page } = await profilePage();
      const detail = await mp.device.getPhoneNumber(options);
      expect(detail.code).toBeUndefined();
      const requestsBefore = mp.device.requests.length;
      await page.event('onGetPhoneNumber', 'getphonenumber', detail);
      expect(view(page)).toMatchObject({ phoneMessage: message, phoneBusy: false, me: { phoneNumber: null } });
      expect(mp.device.requests.length).toBe(requestsBefore);
    });

    it('when the button fails for another reason, then the page shows WeChat’s errMsg and calls nothing', async () => {
      const { mp, page } = await profilePage();
      const requestsBefore = mp.device.requests.length;
      await page.event('onGetPhoneNumber', 'getphonenumber', { errMsg: 'getPhoneNumber:fail no permission' });
      expect(view(page).phoneMessage).toBe('微信接口失败：getPhoneNumber:fail no permission');
      expect(mp.device.requests.length).toBe(requestsBefore);
    });

    it('when config.simulator is set (DevTools offline), then the code comes from the simulator’s dev endpoint, and a denial still sends nothing', async () => {
      const mp = bootMiniProgram(t);
      mp.modules.config.simulator = { appId: t.server.config.wechat.appid };
      await mp.launch();
      const page = await mp.open('pages/profile/profile');
      await page.event('onGetPhoneNumber', 'getphonenumber', { errMsg: 'getPhoneNumber:fail user deny' });
      expect(view(page).phoneMessage).toBe('未授权手机号，未绑定');
      expect(mp.device.requestsOf('mutation BindPhoneNumber')).toEqual([]);
      // DevTools' own answer (a real WeChat code, or none without a verified AppID) is not what is sent.
      await page.event('onGetPhoneNumber', 'getphonenumber', { errMsg: 'getPhoneNumber:fail no permission' });
      expect(view(page)).toMatchObject({ phoneMessage: '' });
      expect(view(page).me.phoneNumber).toMatch(/^139\d{8}$/);
      expect(mp.device.requests.map((r) => r.url.replace(t.url, ''))).toContain('/simulator/dev/phone-code');
      expect(mp.device.requestsOf('mutation BindPhoneNumber').map((r) => r.errorCodes)).toEqual([[]]);
    });
  });

  describe('avatar upload refused', () => {
    const storedFiles = () => readdirSync(dir).sort();

    it('when the chosen image is over AVATAR_MAX_BYTES, then the page names the limit, nothing is stored and setProfile is not called', async () => {
      const { mp, page } = await profilePage();
      const before = storedFiles();
      await page.event('onChooseAvatar', 'chooseavatar', mp.device.chooseAvatar(image(PNG_HEAD, MAX_BYTES + 1), 'png'));
      expect(view(page)).toMatchObject({
        fillInMessage: '图片太大，请换一张不超过 4 KB 的图片',
        avatarBusy: false,
        me: { avatarUrl: null },
      });
      expect(mp.device.uploads).toHaveLength(1);
      expect(mp.device.uploads[0]).toMatchObject({ url: `${t.url}/avatar`, name: 'file', status: 413 });
      // wx.uploadFile's res.data is the body's text, not parsed JSON.
      expect(typeof mp.device.uploads[0].data).toBe('string');
      expect(mp.device.requestsOf('mutation SetProfile')).toEqual([]);
      expect(storedFiles()).toEqual(before);
    });

    it('when the chosen file is not a JPEG, PNG or WebP (a GIF named .jpg), then the page says which images it takes', async () => {
      const { mp, page } = await profilePage();
      await page.event('onChooseAvatar', 'chooseavatar', mp.device.chooseAvatar(image(GIF_HEAD), 'jpg'));
      expect(view(page).fillInMessage).toBe('仅支持 JPG、PNG 或 WebP 图片');
      expect(mp.device.uploads.map((u) => u.status)).toEqual([415]);
      expect(mp.device.requestsOf('mutation SetProfile')).toEqual([]);
      expect((await serverMe(mp)).avatarUrl).toBeNull();
    });

    it('when wx.uploadFile fails (the temporary file is gone), then the page says so and setProfile is not called', async () => {
      const { mp, page } = await profilePage();
      await page.event('onChooseAvatar', 'chooseavatar', { avatarUrl: 'wxfile://tmp_gone.jpg' });
      expect(view(page)).toMatchObject({ fillInMessage: '网络不可用，请稍后重试', avatarBusy: false });
      expect(mp.device.uploads.map((u) => u.status)).toEqual([undefined]);
      expect(mp.device.requestsOf('mutation SetProfile')).toEqual([]);
    });
    /**
     * A front proxy (nginx, a gateway) that answers POST /avatar itself with an HTML page and forwards the rest:
     * the phone gets no answer of our server's.
     */
    async function behindProxy(status: number, html: string) {
      const front = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          if (req.url === '/avatar') return res.writeHead(status, { 'content-type': 'text/html' }).end(html);
          const headers = Object.fromEntries(
            Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)),
          ) as Record<string, string>;
          void fetch(`${t.url}${req.url}`, {
            method: req.method,
            headers,
            body: chunks.length ? Buffer.concat(chunks) : undefined,
          }).then(async (answer) => {
            res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'text/plain' });
            res.end(Buffer.from(await answer.arrayBuffer()));
          });
        });
      });
      await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
      return {
        url: `http://127.0.0.1:${(front.address() as AddressInfo).port}`,
        close: () =>
          new Promise<void>((resolve) => {
            front.close(() => resolve());
            front.closeAllConnections();
          }),
      };
    }

    it.each([
      [
        413,
        '<html><head><title>413 Request Entity Too Large</title></head><body>nginx</body></html>',
        '图片太大，请换一张较小的图片',
      ],
      [502, '<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>', '服务异常，请稍后重试'],
    ])(
      'when a proxy in front answers the upload %i with its own HTML page, then the page says what it means and setProfile is not called',
      async (status, html, message) => {
        const front = await behindProxy(status, html);
        try {
          const mp = bootMiniProgram(t);
          mp.modules.config.baseUrl = front.url;
          await mp.launch();
          const page = await mp.open('pages/profile/profile');
          expect(view(page).me).toMatchObject({ avatarUrl: null });
          await page.event('onChooseAvatar', 'chooseavatar', mp.device.chooseAvatar(image(PNG_HEAD), 'png'));
          expect(view(page)).toMatchObject({ fillInMessage: message, avatarBusy: false });
          expect(mp.device.uploads.map((u) => [u.status, u.data])).toEqual([[status, html]]);
          expect(mp.device.requestsOf('mutation SetProfile')).toEqual([]);
        } finally {
          await front.close();
        }
      },
    );

    it('when the server has no WECHAT_PUSH_TOKEN (image checks could never report), then the page says avatars cannot be changed', async () => {
      const sim = await startStandaloneSimulator();
      // Real-WeChat mode against a simulator on its own port, with no push token configured.
      const s = await startServer({
        env: {
          ...sim.env(),
          AVATAR_DIR: dir,
          WECHAT_PUSH_TOKEN: '',
          // Its own token cache: this simulator knows no token another suite's cached.
          REDIS_NAMESPACE: `${redisNamespace}.mp-no-push`,
        },
      });
      try {
        expect(s.server.config.wechat.pushToken).toBeUndefined();
        const mp = bootMiniProgram(s, { simulatorUrl: sim.base });
        await mp.launch();
        const page = await mp.open('pages/profile/profile');
        await page.event('onChooseAvatar', 'chooseavatar', mp.device.chooseAvatar(image(PNG_HEAD), 'png'));
        expect(view(page)).toMatchObject({
          fillInMessage: '暂不支持更换头像',
          avatarBusy: false,
          me: { avatarUrl: null },
        });
        expect(mp.device.uploads.map((u) => u.status)).toEqual([200]);
        expect(mp.device.requestsOf('mutation SetProfile').map((r) => r.errorCodes)).toEqual([
          ['AVATAR_REVIEW_DISABLED'],
        ]);
      } finally {
        await s.close();
        await sim.close();
      }
    });
  });

  describe('avatar review', () => {
    const issuedUrl = (mp: MiniProgram, i: number) => (JSON.parse(mp.device.uploads[i].data!) as { url: string }).url;
    /**
     * Holds the simulator's image-check results back, or pushes what it held and resumes. Unheld, a result can reach
     * the server before setProfile answers, so a test that must see PENDING holds it.
     */
    async function holdResults(hold: boolean) {
      const res = await fetch(`${t.url}${SIMULATOR_PREFIX}/dev/media-check/hold`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ hold }),
      });
      expect(res.status).toBe(200);
    }
    afterEach(() => holdResults(false));
    /** Until the page shows this review state (bounded: the page's own polls outlast it). */
    const shows = (page: PageHandle, review: string) =>
      eventually(async () => view(page).me?.avatarReview === review, 5000);

    it('when the user picks an avatar, then it is uploaded, shows 审核中 while PENDING, and appears once WeChat passes it', async () => {
      const { mp, page } = await profilePage();
      const bytes = image(PNG_HEAD);
      const choice = mp.device.chooseAvatar(bytes, 'png');
      await holdResults(true);
      const choosing = page.event('onChooseAvatar', 'chooseavatar', choice);
      expect(await shows(page, 'PENDING')).toBe(true);
      // Submitted: the button is free again, the note says why the avatar has not changed.
      expect(view(page)).toMatchObject({
        avatarBusy: false,
        fillInMessage: '',
        avatarNote: '新头像审核中，通过后显示',
        me: { avatarUrl: null },
      });

      expect(mp.device.uploads).toHaveLength(1);
      expect(mp.device.uploads[0]).toMatchObject({
        url: `${t.url}/avatar`,
        filePath: choice.avatarUrl,
        name: 'file',
        status: 200,
        authorization: `Bearer ${tokenOf(mp)}`,
      });
      const url = issuedUrl(mp, 0);
      expect(mp.device.requestsOf('mutation SetProfile').map((r) => r.body?.variables)).toEqual([{ avatarUrl: url }]);
      // The temporary path never leaves the phone and is never stored.
      expect(JSON.stringify(mp.device.requests.map((r) => r.body))).not.toContain('wxfile://');
      expect([...mp.device.storage.values()].join()).not.toContain('wxfile://');

      // WeChat's result arrives; the page's next poll of me shows the new avatar.
      await holdResults(false);
      await choosing;
      expect(view(page)).toMatchObject({
        avatarBusy: false,
        fillInMessage: '',
        avatarNote: '',
        me: { avatarReview: 'PASSED', avatarUrl: url },
      });
      expect(await serverMe(mp)).toMatchObject({ avatarReview: 'PASSED', avatarUrl: url });
      expect(mp.device.requestsOf('query Me').length).toBeGreaterThanOrEqual(2);
      // The URL serves the bytes the user picked.
      const served = await fetch(url);
      expect(Buffer.from(await served.arrayBuffer()).equals(bytes)).toBe(true);
    });

    it('when WeChat’s image check rejects the new avatar, then the page asks for another and the old avatar stays', async () => {
      const { mp, page } = await profilePage();
      await page.event('onChooseAvatar', 'chooseavatar', mp.device.chooseAvatar(image(PNG_HEAD), 'png'));
      const old = issuedUrl(mp, 0);
      expect(view(page).me).toMatchObject({ avatarReview: 'PASSED', avatarUrl: old });

      const risky = Buffer.concat([image(JPEG_HEAD, 200), Buffer.from('RISKY'), randomBytes(100)]);
      await holdResults(true);
      const choosing = page.event('onChooseAvatar', 'chooseavatar', mp.device.chooseAvatar(risky, 'jpg'));
      expect(await shows(page, 'PENDING')).toBe(true);
      expect(view(page)).toMatchObject({ avatarNote: '新头像审核中，通过后显示', me: { avatarUrl: old } });
      await holdResults(false);
      await choosing;

      expect(mp.device.uploads.map((u) => u.status)).toEqual([200, 200]);
      const rejected = issuedUrl(mp, 1);
      expect(rejected).not.toBe(old);
      expect(view(page)).toMatchObject({
        avatarBusy: false,
        avatarNote: '头像未通过审核，请换一张',
        me: { avatarReview: 'REJECTED', avatarUrl: old },
      });
      // The rejected image was never what the page showed.
      expect(page.patches.some((p) => (p.me as { avatarUrl?: string } | undefined)?.avatarUrl === rejected)).toBe(
        false,
      );
      expect(await serverMe(mp)).toMatchObject({ avatarReview: 'REJECTED', avatarUrl: old });
    });

    it('when the polls run out while the review is PENDING, then the next onShow shows the passed avatar', async () => {
      const { mp, page } = await profilePage({ avatarReviewPolls: 0 });
      await holdResults(true);
      await page.event('onChooseAvatar', 'chooseavatar', mp.device.chooseAvatar(image(PNG_HEAD), 'png'));
      const url = issuedUrl(mp, 0);
      expect(view(page)).toMatchObject({
        avatarNote: '新头像审核中，通过后显示',
        me: { avatarReview: 'PENDING', avatarUrl: null },
      });
      await holdResults(false);
      expect(await eventually(async () => (await serverMe(mp)).avatarReview !== 'PENDING', 5000)).toBe(true);
      await page.call('onShow');
      expect(view(page)).toMatchObject({ avatarNote: '', me: { avatarReview: 'PASSED', avatarUrl: url } });
    });

    it('when polls of me fail on the way (no network), then the page keeps polling and still shows the passed avatar', async () => {
      const { mp, page } = await profilePage();
      let failed = 0;
      mp.device.requestFault = (r) => {
        if (!r.body?.query?.includes('query Me') || failed >= 3) return undefined;
        failed += 1;
        return 'request:fail timeout';
      };
      await holdResults(true);
      const choosing = page.event('onChooseAvatar', 'chooseavatar', mp.device.chooseAvatar(image(PNG_HEAD), 'png'));
      expect(await eventually(async () => failed === 3, 5000)).toBe(true);
      await holdResults(false);
      await choosing;
      expect(view(page)).toMatchObject({ fillInMessage: '', avatarNote: '', me: { avatarReview: 'PASSED' } });
      expect(view(page).me.avatarUrl).toBe(issuedUrl(mp, 0));
    });

    it('when the stored token is dead at upload, then the phone logs in again and uploads once more', async () => {
      const { mp, page } = await profilePage();
      mp.device.setStorage('wxmp.session', { ...mp.modules.session.storedSession()!, token: 'x'.repeat(43) });
      const logins = mp.device.calls.login;
      await page.event('onChooseAvatar', 'chooseavatar', mp.device.chooseAvatar(image(PNG_HEAD), 'png'));
      expect(mp.device.uploads.map((u) => u.status)).toEqual([401, 200]);
      expect(mp.device.calls.login).toBe(logins + 1);
      expect(view(page)).toMatchObject({ fillInMessage: '', me: { avatarReview: 'PASSED' } });
    });
  });
});

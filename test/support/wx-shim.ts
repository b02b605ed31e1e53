import { randomBytes } from 'node:crypto';
import { SIMULATOR_PREFIX } from '../../src/app';
import type { TestServer } from './server';

/**
 * A phone running the mini-program, as far as its code can tell: the `wx` APIs it uses, answered the way WeChat
 * answers them (success/fail callbacks, errMsg strings, '' for a missing storage key), backed by the simulator's
 * developer endpoints and real HTTP to the server. No module of ours is replaced.
 */

export interface DeviceOptions {
  /** A returning WeChat user; by default a new one, whose openid is fixed by the first wx.login. */
  openid?: string;
  /** What wx.checkSession answers until the next wx.login (WeChat's session_key still valid). Default true. */
  sessionValid?: boolean;
  /** The profile wx.getUserProfile seals; by default WeChat's anonymous one. */
  profile?: Record<string, unknown>;
  /** Make wx.getUserProfile fail outside a tap, as WeChat does ("can only be invoked by user TAP gesture"). */
  requireTap?: boolean;
  /** The simulator's dev endpoints, when it runs on its own (WECHAT_API_BASE); by default the server's /simulator. */
  simulatorUrl?: string;
}

/** How the next wx.requestPayment goes. */
export interface PaymentBehaviour {
  /** The user closes the pay sheet. */
  cancel?: boolean;
  /** false: WeChat takes the money but its notify never reaches the server. */
  deliver?: boolean;
  /** The sheet says ok without any payment at WeChat (a success callback is not proof). */
  fakeSuccess?: boolean;
  /** The sheet fails with this errMsg (e.g. 'requestPayment:fail 系统繁忙，请稍后再试') and nothing is paid. */
  fail?: string;
}

export interface UiCall {
  api: 'showToast' | 'showLoading' | 'hideLoading' | 'showModal' | 'navigateTo' | 'redirectTo';
  options: Record<string, unknown>;
}

export interface RecordedRequest {
  url: string;
  body: { query?: string; variables?: Record<string, unknown> } | undefined;
  authorization?: string;
  status?: number;
  /** extensions.code of each GraphQL error in the answer. */
  errorCodes: string[];
}

export interface RecordedUpload {
  url: string;
  filePath: string;
  name: string;
  authorization?: string;
  status?: number;
  /** The answer's body, as wx.uploadFile hands it over: text. */
  data?: string;
}

/** How the getPhoneNumber button answers the user's choice. */
export interface PhoneButtonOptions {
  /** The user taps 拒绝. */
  deny?: boolean;
  /** The mini-program has no quota left (errno 1400001). */
  noQuota?: boolean;
  /** The number the simulator gives for the code (digits); by default a random 139… one. */
  purePhoneNumber?: string;
  countryCode?: string;
}

type Callbacks<S> = {
  success?: (res: S) => void;
  fail?: (err: { errMsg: string }) => void;
  complete?: (res: unknown) => void;
};

export class WxDevice {
  openid?: string;
  sessionValid: boolean;
  profile?: Record<string, unknown>;
  requireTap: boolean;
  private readonly simulatorUrl: string;
  /** Set by PageHandle.tap during the synchronous part of a tap handler. */
  inTap = false;
  /** Storage holds JSON, as WeChat serialises what it stores. */
  readonly storage = new Map<string, string>();
  readonly ui: UiCall[] = [];
  readonly requests: RecordedRequest[] = [];
  readonly uploads: RecordedUpload[] = [];
  /** Files on the phone by their temporary path (chooseAvatar's), as wx.uploadFile reads them. */
  readonly files = new Map<string, Buffer>();
  readonly calls = { login: 0, checkSession: 0, getUserProfile: 0, requestPayment: 0 };
  nextPayment: PaymentBehaviour = {};
  /**
   * The phone's network for wx.request: an errMsg makes that request fail as WeChat's does ("request:fail timeout")
   * without reaching the server. Asked for each request.
   */
  requestFault?: (request: RecordedRequest) => string | undefined;
  /**
   * Answers a wx.request in the server's place (status and body as the server would send them), to reach states the
   * real server cannot be brought to on demand; undefined lets the request through. Asked after requestFault.
   */
  requestAnswer?: (request: RecordedRequest) => { statusCode: number; data: unknown } | undefined;
  readonly wx: WechatMiniprogram.Wx;

  constructor(
    private readonly server: TestServer,
    options: DeviceOptions = {},
  ) {
    this.openid = options.openid;
    this.sessionValid = options.sessionValid ?? true;
    this.profile = options.profile;
    this.requireTap = options.requireTap ?? false;
    this.simulatorUrl = options.simulatorUrl ?? `${server.url}${SIMULATOR_PREFIX}`;
    this.wx = this.buildWx();
  }

  /** GraphQL requests whose query is this operation (e.g. 'mutation Login'). */
  requestsOf(operation: string): RecordedRequest[] {
    return this.requests.filter((r) => r.body?.query?.includes(operation));
  }

  setStorage(key: string, value: unknown) {
    this.storage.set(key, JSON.stringify(value));
  }

  getStorage(key: string): unknown {
    const raw = this.storage.get(key);
    return raw === undefined ? '' : JSON.parse(raw);
  }

  /**
   * The user picks an image with `<button open-type="chooseAvatar">`: WeChat writes it to a temporary file and the
   * event's detail carries its path.
   */
  chooseAvatar(bytes: Buffer, ext = 'jpg'): { avatarUrl: string } {
    const path = `wxfile://tmp_${randomBytes(8).toString('hex')}.${ext}`;
    this.files.set(path, bytes);
    return { avatarUrl: path };
  }

  /**
   * The user answers `<button open-type="getPhoneNumber">`'s sheet: the event's detail, with a one-time code the
   * simulator minted for this user's number when they allowed it (POST /dev/phone-code, as wx.login's come from
   * /dev/login-code).
   */
  async getPhoneNumber(options: PhoneButtonOptions = {}): Promise<{ errMsg: string; code?: string; errno?: number }> {
    if (options.deny) return { errMsg: 'getPhoneNumber:fail user deny' };
    if (options.noQuota) return { errMsg: 'getPhoneNumber:fail no quota', errno: 1400001 };
    if (!this.openid) throw new Error('getPhoneNumber before any wx.login: the simulator knows no user yet');
    const { status, body } = await this.simPost<{ code: string; purePhoneNumber: string }>('/dev/phone-code', {
      openid: this.openid,
      ...(options.purePhoneNumber ? { purePhoneNumber: options.purePhoneNumber } : {}),
      ...(options.countryCode ? { countryCode: options.countryCode } : {}),
    });
    if (status !== 200) throw new Error(`simulator /dev/phone-code: ${status}`);
    return { errMsg: 'getPhoneNumber:ok', code: body.code };
  }

  private async simPost<T>(path: string, body: unknown): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.simulatorUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as T };
  }

  /** Runs `work` and answers through the callbacks later, as WeChat does: never synchronously. */
  private answer<S>(api: string, options: Callbacks<S>, work: () => Promise<S>) {
    void (async () => {
      let outcome: { ok: true; res: S } | { ok: false; err: { errMsg: string } };
      try {
        outcome = { ok: true, res: await work() };
      } catch (err) {
        const errMsg = err instanceof WxFail ? err.errMsg : `${api}:fail ${(err as Error).message}`;
        outcome = { ok: false, err: { errMsg } };
      }
      if (outcome.ok) options.success?.(outcome.res);
      else options.fail?.(outcome.err);
      options.complete?.(outcome.ok ? outcome.res : outcome.err);
    })();
  }

  private buildWx(): WechatMiniprogram.Wx {
    const device = this;
    const wx = {
      login(options: Callbacks<{ code: string; errMsg: string }>) {
        device.calls.login++;
        device.answer('login', options, async () => {
          const { status, body } = await device.simPost<{ code: string; openid: string }>(
            '/dev/login-code',
            device.openid ? { openid: device.openid } : {},
          );
          if (status !== 200) throw new WxFail(`login:fail ${status}`);
          device.openid = body.openid;
          // A new login gives WeChat a new session: checkSession is fine again.
          device.sessionValid = true;
          return { code: body.code, errMsg: 'login:ok' };
        });
      },

      checkSession(options: Callbacks<{ errMsg: string }>) {
        device.calls.checkSession++;
        device.answer('checkSession', options, async () => {
          if (!device.sessionValid) throw new WxFail('checkSession:fail session time out, need relogin');
          return { errMsg: 'checkSession:ok' };
        });
      },

      request(
        options: Callbacks<{
          data: unknown;
          statusCode: number;
          header: Record<string, string>;
          cookies: string[];
          errMsg: string;
        }> & {
          url: string;
          method?: string;
          data?: unknown;
          header?: Record<string, string>;
          dataType?: string;
        },
      ) {
        const header = Object.fromEntries(Object.entries(options.header ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
        const body =
          options.data === undefined || typeof options.data === 'string' ? options.data : JSON.stringify(options.data);
        const record: RecordedRequest = {
          url: options.url,
          body: typeof options.data === 'object' ? (options.data as RecordedRequest['body']) : undefined,
          authorization: header.authorization,
          errorCodes: [],
        };
        device.requests.push(record);
        const fault = device.requestFault?.(record);
        const canned = fault ? undefined : device.requestAnswer?.(record);
        device.answer('request', options, async () => {
          if (fault) throw new WxFail(fault);
          if (canned) {
            record.status = canned.statusCode;
            const errors = (canned.data as { errors?: { extensions?: { code?: string } }[] } | null)?.errors;
            if (Array.isArray(errors)) record.errorCodes = errors.map((e) => e.extensions?.code ?? '');
            const type = typeof canned.data === 'string' ? 'text/html' : 'application/json';
            return { ...canned, header: { 'content-type': type }, cookies: [], errMsg: 'request:ok' };
          }
          const res = await fetch(options.url, { method: options.method ?? 'GET', headers: header, body });
          const text = await res.text();
          let data: unknown = text;
          if ((options.dataType ?? 'json') === 'json') {
            try {
              data = JSON.parse(text);
            } catch {
              // WeChat hands over the raw text when it is not JSON.
            }
          }
          record.status = res.status;
          const errors = (data as { errors?: { extensions?: { code?: string } }[] } | null)?.errors;
          if (Array.isArray(errors)) record.errorCodes = errors.map((e) => e.extensions?.code ?? '');
          return {
            data,
            statusCode: res.status,
            header: Object.fromEntries(res.headers),
            cookies: [],
            errMsg: 'request:ok',
          };
        });
        return { abort() {} };
      },

      /** A real multipart/form-data POST, as WeChat sends it; the answer's body stays text (res.data). */
      uploadFile(
        options: Callbacks<{ data: string; statusCode: number; errMsg: string }> & {
          url: string;
          filePath: string;
          name: string;
          header?: Record<string, string>;
          formData?: Record<string, string>;
        },
      ) {
        const header = Object.fromEntries(Object.entries(options.header ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
        const record: RecordedUpload = {
          url: options.url,
          filePath: options.filePath,
          name: options.name,
          authorization: header.authorization,
        };
        device.uploads.push(record);
        device.answer('uploadFile', options, async () => {
          const bytes = device.files.get(options.filePath);
          if (!bytes) throw new WxFail(`uploadFile:fail file not found: ${options.filePath}`);
          if (!options.name) throw new WxFail('uploadFile:fail parameter error: parameter.name should be String');
          // WeChat sets the multipart boundary itself; a content-type given in header would break it.
          delete header['content-type'];
          const form = new FormData();
          for (const [k, v] of Object.entries(options.formData ?? {})) form.append(k, v);
          const fileName = options.filePath.replace(/^.*[/_]/, '');
          form.append(options.name, new Blob([new Uint8Array(bytes)]), fileName);
          const res = await fetch(options.url, { method: 'POST', headers: header, body: form });
          const data = await res.text();
          record.status = res.status;
          record.data = data;
          return { data, statusCode: res.status, errMsg: 'uploadFile:ok' };
        });
        return { abort() {}, onProgressUpdate() {}, offProgressUpdate() {} };
      },

      getUserProfile(options: Callbacks<Record<string, unknown>> & { desc: string }) {
        device.calls.getUserProfile++;
        // WeChat checks the gesture when the call is made, not when it answers.
        const tapped = device.inTap;
        device.answer('getUserProfile', options, async () => {
          if (!options.desc) throw new WxFail('getUserProfile:fail desc is required');
          if (device.requireTap && !tapped)
            throw new WxFail('getUserProfile:fail can only be invoked by user TAP gesture.');
          if (!device.openid) throw new WxFail('getUserProfile:fail no login');
          const { status, body } = await device.simPost<{ encryptedData: string; iv: string }>('/dev/user-data', {
            openid: device.openid,
            ...(device.profile ? { profile: device.profile } : {}),
          });
          if (status !== 200) throw new WxFail(`getUserProfile:fail ${status}`);
          return {
            ...body,
            userInfo: device.profile ?? { nickName: '微信用户' },
            rawData: '',
            signature: '',
            cloudID: '',
            errMsg: 'getUserProfile:ok',
          };
        });
      },

      requestPayment(options: Callbacks<{ errMsg: string }> & Record<string, unknown>) {
        device.calls.requestPayment++;
        const behaviour = device.nextPayment;
        device.nextPayment = {};
        device.answer('requestPayment', options, async () => {
          if (behaviour.fakeSuccess) return { errMsg: 'requestPayment:ok' };
          if (behaviour.fail) throw new WxFail(behaviour.fail);
          const { timeStamp, nonceStr, package: pkg, signType, paySign } = options;
          const { body } = await device.simPost<{ errMsg: string }>('/dev/request-payment', {
            appId: device.server.server.config.wechat.appid,
            timeStamp,
            nonceStr,
            package: pkg,
            signType,
            paySign,
            ...(behaviour.cancel ? { cancel: true } : {}),
            ...(behaviour.deliver === false ? { deliver: false } : {}),
          });
          if (body.errMsg !== 'requestPayment:ok') throw new WxFail(body.errMsg);
          return { errMsg: body.errMsg };
        });
      },

      getStorageSync(key: string) {
        return device.getStorage(key);
      },
      setStorageSync(key: string, value: unknown) {
        device.setStorage(key, value);
      },
      removeStorageSync(key: string) {
        device.storage.delete(key);
      },

      showToast: (options: Record<string, unknown>) => device.recordUi('showToast', options),
      showLoading: (options: Record<string, unknown>) => device.recordUi('showLoading', options),
      hideLoading: (options: Record<string, unknown> = {}) => device.recordUi('hideLoading', options),
      navigateTo: (options: Record<string, unknown>) => device.recordUi('navigateTo', options),
      redirectTo: (options: Record<string, unknown>) => device.recordUi('redirectTo', options),
      showModal(options: Callbacks<{ confirm: boolean; cancel: boolean; errMsg: string }> & Record<string, unknown>) {
        device.recordUi('showModal', options);
        device.answer('showModal', options, async () => ({ confirm: true, cancel: false, errMsg: 'showModal:ok' }));
      },
    };
    return wx as unknown as WechatMiniprogram.Wx;
  }

  private recordUi(api: UiCall['api'], options: Record<string, unknown>) {
    const plain = Object.fromEntries(Object.entries(options).filter(([, v]) => typeof v !== 'function'));
    this.ui.push({ api, options: plain });
    const success = options.success as ((res: { errMsg: string }) => void) | undefined;
    if (success) setTimeout(() => success({ errMsg: `${api}:ok` }), 0);
  }
}

/** A fail callback with WeChat's errMsg. */
class WxFail extends Error {
  constructor(readonly errMsg: string) {
    super(errMsg);
  }
}

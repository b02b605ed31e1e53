import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestServer } from './server';
import { WxDevice, type DeviceOptions } from './wx-shim';

const ROOT = join(__dirname, '..', '..', 'miniprogram');
const appJson = JSON.parse(readFileSync(join(ROOT, 'app.json'), 'utf8')) as { pages: string[] };

type Options = Record<string, unknown>;
// Page data is whatever each page's own code put there; tests read it the way the page wrote it.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above: no one type fits every page
type Data = Record<string, any>;

/** The mini-program's own modules, loaded fresh for one run of the app (as a cold start on a phone would). */
export interface Modules {
  config: typeof import('../../miniprogram/config').config;
  session: typeof import('../../miniprogram/lib/session');
  client: typeof import('../../miniprogram/lib/client');
  gql: typeof import('../../miniprogram/gql/graphql');
}

export interface BootOptions extends DeviceOptions {
  /** Run on an existing phone (its storage, openid and WeChat session), e.g. to start the app again. */
  device?: WxDevice;
  /** Fast polling for tests; the defaults in miniprogram/config.ts are for people. */
  payPollIntervalMs?: number;
  payPollTimeoutMs?: number;
  avatarReviewPollIntervalMs?: number;
  avatarReviewPolls?: number;
}

/**
 * Loads miniprogram/app.ts and every page in app.json on a shim phone, the way the WeChat runtime would: the
 * globals `wx`, `App`, `Page`, `getApp` and `getCurrentPages` capture what the code registers. One mini-program is
 * active at a time (the globals point at the last one booted or activated).
 */
export function bootMiniProgram(t: TestServer, options: BootOptions = {}): MiniProgram {
  const device = options.device ?? new WxDevice(t, options);
  const mp = new MiniProgram(device);
  mp.activate();

  jest.isolateModules(() => {
    const config = (require('../../miniprogram/config') as typeof import('../../miniprogram/config')).config;
    config.baseUrl = t.url;
    config.payPollIntervalMs = options.payPollIntervalMs ?? 10;
    config.payPollTimeoutMs = options.payPollTimeoutMs ?? 10_000;
    // The simulator pushes its image verdict a few hundred ms after the check: 100 polls leave it ample time.
    config.avatarReviewPollIntervalMs = options.avatarReviewPollIntervalMs ?? 50;
    config.avatarReviewPolls = options.avatarReviewPolls ?? 100;
    require('../../miniprogram/app');
    for (const route of appJson.pages) {
      mp.registering = route;
      require(`../../miniprogram/${route}`);
    }
    mp.registering = '';
    mp.modules = {
      config,
      session: require('../../miniprogram/lib/session') as Modules['session'],
      client: require('../../miniprogram/lib/client') as Modules['client'],
      gql: require('../../miniprogram/gql/graphql') as Modules['gql'],
    };
  });
  if (!mp.appOptions) throw new Error('miniprogram/app.ts did not call App()');
  return mp;
}

interface PageInstance extends Data {
  route: string;
  options: Record<string, string>;
  data: Data;
  setData(patch: Data, callback?: () => void): void;
}

export class MiniProgram {
  appOptions?: Options;
  readonly pageOptions = new Map<string, Options>();
  readonly stack: PageInstance[] = [];
  modules!: Modules;
  /** The page module being loaded, while bootMiniProgram loads it. */
  registering = '';

  constructor(readonly device: WxDevice) {}

  /** Points the globals at this mini-program and its phone. */
  activate() {
    Object.assign(globalThis, {
      wx: this.device.wx,
      App: (options: Options) => {
        this.appOptions = options;
      },
      Page: (options: Options) => {
        if (!this.registering) throw new Error('Page() called outside a page module');
        this.pageOptions.set(this.registering, options);
      },
      getApp: () => this.appOptions,
      getCurrentPages: () => [...this.stack],
    });
  }

  /** Cold start: App.onLaunch, then what the app's launch check settled on. */
  async launch(): Promise<'kept' | 'logged-in' | 'failed'> {
    this.activate();
    const app = this.appOptions as {
      onLaunch?: (o: unknown) => void;
      globalData: { launch: Promise<'kept' | 'logged-in' | 'failed'> };
    };
    app.onLaunch?.call(app, { path: appJson.pages[0], query: {}, scene: 1001 });
    return app.globalData.launch;
  }

  /** Opens a page: a fresh instance of its options, onLoad(query) then onShow, both awaited. */
  async open(route: string, query: Record<string, string> = {}): Promise<PageHandle> {
    this.activate();
    const options = this.pageOptions.get(route);
    if (!options) throw new Error(`no page registered for ${route}`);
    const page = new PageHandle(route, options, query, this.device);
    this.stack.push(page.instance);
    await page.call('onLoad', query, { optional: true });
    await page.call('onShow', undefined, { optional: true });
    return page;
  }
}

/** A page instance as the WeChat runtime builds it: the options' methods, a copy of data, and setData. */
export class PageHandle {
  readonly instance: PageInstance;
  /** Every setData patch in order, for what a page showed on the way (a handler's await shows only its end). */
  readonly patches: Data[] = [];

  constructor(
    readonly route: string,
    options: Options,
    query: Record<string, string>,
    private readonly device: WxDevice,
  ) {
    const patches = this.patches;
    const instance: PageInstance = {
      route,
      options: query,
      data: structuredClone((options.data ?? {}) as Data),
      setData(patch: Data, callback?: () => void) {
        patches.push(structuredClone(patch));
        for (const [path, value] of Object.entries(patch))
          setPath(instance.data, path, value === undefined ? undefined : structuredClone(value));
        callback?.();
      },
    };
    for (const [key, value] of Object.entries(options)) if (typeof value === 'function') instance[key] = value;
    this.instance = instance;
  }

  get data(): Data {
    return this.instance.data;
  }

  /** Calls a handler or lifecycle method with `this` bound to the instance; awaits what it returns. */
  async call(method: string, arg?: unknown, { optional = false } = {}): Promise<unknown> {
    const fn: unknown = this.instance[method];
    if (typeof fn !== 'function') {
      if (optional) return undefined;
      throw new Error(`${this.route} has no method ${method}`);
    }
    return (fn as (this: PageInstance, arg: unknown) => unknown).call(this.instance, arg);
  }

  /** A bindtap: WeChat counts the handler's synchronous part as inside the user's tap. */
  tap(method: string, detail: Data = {}): Promise<unknown> {
    this.device.inTap = true;
    try {
      return this.call(method, { type: 'tap', detail, currentTarget: { dataset: {} } });
    } finally {
      this.device.inTap = false;
    }
  }

  /** A bindinput, as an <input> sends it. */
  input(method: string, value: string) {
    return this.call(method, { type: 'input', detail: { value, cursor: value.length, keyCode: 0 } });
  }

  /** A <form bindsubmit> with its named fields. */
  submit(method: string, value: Record<string, string>) {
    return this.call(method, { type: 'submit', detail: { value } });
  }

  /** Any custom event (bindchooseavatar, bindnicknamereview). */
  event(method: string, type: string, detail: Data) {
    return this.call(method, { type, detail });
  }
}

function setPath(target: Data, path: string, value: unknown) {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Data;
  }
  node[keys[keys.length - 1]] = value;
}

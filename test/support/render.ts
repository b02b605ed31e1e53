import './render-dom';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import * as simulate from 'miniprogram-simulate';
import ts from 'typescript';
import type { TestServer } from './server';
import { WxDevice, type DeviceOptions } from './wx-shim';

/**
 * The mini-program as WeChat DevTools runs it, rendered: every .ts compiled by TypeScript on its own into a CommonJS
 * .js next to its .wxml, .wxss and .json (what DevTools' typescript compiler plugin produces; its "es6 → es5" pass is
 * Babel's, not reproduced here), then each page loaded by Tencent's miniprogram-simulate with the official WXML compiler
 * (wcc) and rendered by j-component into a jsdom document. Events go through the rendered elements' own bindings,
 * so a handler the WXML names but the page lacks, or a binding the WXML lacks, fails the test.
 */

const SOURCE = join(__dirname, '..', '..', 'miniprogram');
const appJson = JSON.parse(readFileSync(join(SOURCE, 'app.json'), 'utf8')) as { pages: string[] };

let compiled: string | undefined;
// Registered when a test file imports this module, so it runs after that file's tests.
afterAll(() => {
  if (compiled) rmSync(compiled, { recursive: true, force: true });
  compiled = undefined;
});

/** Compiles miniprogram/ once per test file into a temporary directory, removed after the file's tests. */
export function compileMiniProgram(): string {
  if (compiled) return compiled;
  const out = mkdtempSync(join(tmpdir(), 'mp-rendered-'));
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const from = join(dir, entry.name);
      const to = join(out, relative(SOURCE, from));
      if (entry.isDirectory()) {
        if (entry.name !== 'graphql') walk(from);
        continue;
      }
      mkdirSync(dirname(to), { recursive: true });
      if (entry.name.endsWith('.d.ts')) continue;
      if (entry.name.endsWith('.ts')) {
        const { outputText, diagnostics } = ts.transpileModule(readFileSync(from, 'utf8'), {
          fileName: from,
          reportDiagnostics: true,
          compilerOptions: {
            module: ts.ModuleKind.CommonJS,
            // TypeScript 6 no longer emits ES5; ES2015 still lowers async/await to generators as DevTools does.
            target: ts.ScriptTarget.ES2015,
            isolatedModules: true,
            strict: true,
          },
        });
        if (diagnostics?.length)
          throw new Error(`${from}: ${ts.flattenDiagnosticMessageText(diagnostics[0].messageText, '\n')}`);
        writeFileSync(to.replace(/\.ts$/, '.js'), outputText);
      } else if (/\.(wxml|wxss|json|wxs)$/.test(entry.name)) {
        copyFileSync(from, to);
      }
    }
  };
  walk(SOURCE);
  compiled = out;
  return out;
}

type Options = Record<string, unknown>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- page data is whatever each page's code put there
type Data = Record<string, any>;

export interface RenderOptions extends DeviceOptions {
  device?: WxDevice;
  payPollIntervalMs?: number;
  payPollTimeoutMs?: number;
  avatarReviewPollIntervalMs?: number;
  avatarReviewPolls?: number;
}

/** The compiled mini-program's own modules for one run of the app. */
export interface RenderedModules {
  session: typeof import('../../miniprogram/lib/session');
}

/**
 * A rendered element: its WXML tag (button, view, input…), attributes as the template set them (named as WeChat's
 * compiler passes them: open-type is openType), its bindings and its text.
 */
export interface RenderedNode {
  tag: string;
  attrs: Record<string, unknown>;
  /** Event name → handler name, from bind:/catch: attributes. */
  events: Record<string, string>;
  text: string;
  children: RenderedNode[];
  /** The exparser node, to dispatch events on. */
  readonly node: ExparserNode;
}

interface ExparserNode {
  __virtual?: boolean;
  __wxSlotChildren?: ExparserNode[];
  textContent?: string;
  _vt?: {
    type: number;
    tagName: string;
    componentId?: string;
    attrs: { name: string; value: unknown }[];
    event: Record<string, { handler: string }>;
  };
}

/**
 * Loads app.ts and every page in app.json on a shim phone, rendered. Page() is WeChat's page constructor; the
 * pages are registered as components (which is what a page is to the runtime), with their lifecycle methods kept
 * as methods that the handle calls in WeChat's order (onLoad, then onShow).
 */
export function bootRendered(t: TestServer, options: RenderOptions = {}): RenderedMiniProgram {
  const root = compileMiniProgram();
  const device = options.device ?? new WxDevice(t, options);
  const mp = new RenderedMiniProgram(device);
  mp.activate();
  jest.isolateModules(() => {
    const { config } = jest.requireActual<typeof import('../../miniprogram/config')>(join(root, 'config.js'));
    config.baseUrl = t.url;
    config.payPollIntervalMs = options.payPollIntervalMs ?? 10;
    config.payPollTimeoutMs = options.payPollTimeoutMs ?? 10_000;
    config.avatarReviewPollIntervalMs = options.avatarReviewPollIntervalMs ?? 50;
    config.avatarReviewPolls = options.avatarReviewPolls ?? 100;
    jest.requireActual(join(root, 'app.js'));
    for (const route of appJson.pages) {
      mp.registering = route;
      mp.componentIds.set(route, simulate.load(join(root, route), { compiler: 'official', rootPath: root }));
    }
    mp.registering = '';
    mp.modules = { session: jest.requireActual<RenderedModules['session']>(join(root, 'lib', 'session.js')) };
  });
  if (!mp.appOptions) throw new Error('miniprogram/app.ts did not call App()');
  return mp;
}

export class RenderedMiniProgram {
  appOptions?: Options;
  readonly pageOptions = new Map<string, Options>();
  readonly componentIds = new Map<string, string>();
  readonly pages: RenderedPage[] = [];
  modules!: RenderedModules;
  registering = '';
  /** Handler calls not finished yet, across all pages. */
  readonly pending = new Set<Promise<unknown>>();
  /** How many page methods events have called, to tell a dispatched event that reached no handler. */
  handled = 0;

  constructor(readonly device: WxDevice) {}

  activate() {
    // The page methods below run with the page instance as `this`; they reach the mini-program through this name.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const mp = this;
    Object.assign(globalThis, {
      wx: this.device.wx,
      App: (options: Options) => {
        this.appOptions = options;
      },
      Page: (options: Options) => {
        if (!this.registering) throw new Error('Page() called outside a page module');
        this.pageOptions.set(this.registering, options);
        const methods: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(options)) {
          if (typeof value !== 'function') continue;
          const fn = value as (this: unknown, arg: unknown) => unknown;
          methods[key] = function (this: unknown, arg: unknown) {
            const event = arg as { type?: string } | undefined;
            const isEvent = typeof event === 'object' && event !== null && typeof event.type === 'string';
            if (isEvent) mp.handled++;
            // WeChat counts a tap handler's synchronous part as inside the user's tap (getUserProfile needs it).
            const tap = isEvent && event.type === 'tap';
            if (tap) mp.device.inTap = true;
            try {
              const result = fn.call(this, arg);
              if (result instanceof Promise) mp.track(result);
              return result;
            } finally {
              if (tap) mp.device.inTap = false;
            }
          };
        }
        // A page is a component to the runtime; simulate's Component() registers it with its template.
        (globalThis as unknown as { Component: (o: Options) => void }).Component({
          data: options.data,
          methods,
        });
      },
      getApp: () => this.appOptions,
      getCurrentPages: () => this.pages.map((p) => p.instance),
    });
  }

  track(promise: Promise<unknown>) {
    const settled = promise.then(
      () => undefined,
      () => undefined,
    );
    this.pending.add(settled);
    void settled.then(() => this.pending.delete(settled));
  }

  /** Waits until every handler and lifecycle call started so far (and those they start) has finished. */
  async settle() {
    for (;;) {
      // Events and setData callbacks run a microtask later; a macrotask turn lets them start.
      await new Promise((resolve) => setImmediate(resolve));
      if (this.pending.size === 0) return;
      await Promise.all([...this.pending]);
    }
  }

  async launch(): Promise<'kept' | 'logged-in' | 'failed'> {
    this.activate();
    const app = this.appOptions as {
      onLaunch?: (o: unknown) => void;
      globalData: { launch: Promise<'kept' | 'logged-in' | 'failed'> };
    };
    app.onLaunch?.call(app, { path: appJson.pages[0], query: {}, scene: 1001 });
    return app.globalData.launch;
  }

  /** Opens a page: rendered and attached, then onLoad(query) and onShow, settled. */
  async open(route: string, query: Record<string, string> = {}): Promise<RenderedPage> {
    this.activate();
    const id = this.componentIds.get(route);
    if (!id) throw new Error(`no page registered for ${route}`);
    const component = simulate.render(id);
    component.attach(document.createElement('page-wrapper'));
    const page = new RenderedPage(this, route, component);
    this.pages.push(page);
    const instance = page.instance as Record<string, unknown>;
    for (const hook of ['onLoad', 'onShow'] as const) {
      const fn = instance[hook];
      if (typeof fn === 'function') {
        const result: unknown = (fn as (this: unknown, arg: unknown) => unknown).call(instance, query);
        if (result instanceof Promise) this.track(result);
        await this.settle();
      }
    }
    return page;
  }
}

type SimComponent = ReturnType<typeof simulate.render>;

export class RenderedPage {
  constructor(
    private readonly mp: RenderedMiniProgram,
    readonly route: string,
    readonly component: SimComponent,
  ) {}

  get instance(): { data: Data } & Record<string, unknown> {
    return this.component.instance as { data: Data } & Record<string, unknown>;
  }

  get data(): Data {
    return this.instance.data;
  }

  /** The page shows again (back from another page or from WeChat): onShow, settled. */
  async show() {
    const fn = this.instance.onShow;
    if (typeof fn !== 'function') throw new Error(`${this.route} has no onShow`);
    const result: unknown = (fn as (this: unknown) => unknown).call(this.instance);
    if (result instanceof Promise) this.mp.track(result);
    await this.mp.settle();
  }

  /** The rendered tree (wx:if branches not taken are absent, as on a phone). */
  tree(): RenderedNode {
    return toNode((this.component as unknown as { _exparserNode: ExparserNode })._exparserNode);
  }

  /** All the text a person sees, whitespace collapsed. */
  text(): string {
    return squash(this.tree().text);
  }

  /** Elements by WXML tag, optionally with a class (as written in the WXML) or containing some text. */
  all(tag: string, filter: { class?: string; text?: string } = {}): RenderedNode[] {
    const found: RenderedNode[] = [];
    const visit = (n: RenderedNode) => {
      if (
        n.tag === tag &&
        (filter.class === undefined ||
          (typeof n.attrs.class === 'string' ? n.attrs.class : '').split(/\s+/).includes(filter.class)) &&
        (filter.text === undefined || squash(n.text).includes(filter.text))
      )
        found.push(n);
      n.children.forEach(visit);
    };
    visit(this.tree());
    return found;
  }

  /** The one element that matches; fails when there is none or more than one. */
  one(tag: string, filter: { class?: string; text?: string } = {}): RenderedNode {
    const found = this.all(tag, filter);
    if (found.length !== 1)
      throw new Error(`${this.route}: ${found.length} <${tag}> matching ${JSON.stringify(filter)}:\n${this.text()}`);
    return found[0];
  }

  /** The text of every element with this class (e.g. the page's error lines). */
  texts(tag: string, cls: string): string[] {
    return this.all(tag, { class: cls }).map((n) => squash(n.text));
  }

  /** The button with this text, tapped as a person would: its bindtap runs, and the page settles. */
  tap(buttonText: string) {
    const button = this.one('button', { text: buttonText });
    if (button.attrs.disabled === true) throw new Error(`${this.route}: button ${buttonText} is disabled`);
    return this.dispatch(button, 'tap', {});
  }

  /** Typing into an <input>: its bindinput gets what an input sends. */
  input(node: RenderedNode, value: string) {
    return this.dispatch(node, 'input', { value, cursor: value.length, keyCode: 0 });
  }

  /** A <form>'s bindsubmit with its named fields' values. */
  submit(form: RenderedNode, value: Record<string, string>) {
    return this.dispatch(form, 'submit', { value });
  }

  /** Any event on a rendered element, through its own binding; fails when no page method ran for it. */
  async dispatch(node: RenderedNode, type: string, detail: Data) {
    const before = this.mp.handled;
    this.mp.activate();
    const Wrapper = Object.getPrototypeOf(this.component.constructor) as new (n: ExparserNode) => SimComponent;
    new Wrapper(node.node).dispatchEvent(type, { detail });
    await this.mp.settle();
    if (this.mp.handled === before) throw new Error(`${this.route}: no handler ran for ${type} on <${node.tag}>`);
  }
}

/** j-component's node type for text (its tool/constant.js). */
const TYPE_TEXT = 18;

function toNode(node: ExparserNode): RenderedNode {
  const children: RenderedNode[] = [];
  let text = '';
  for (const child of node.__wxSlotChildren ?? []) {
    if (!child._vt || child._vt.type === TYPE_TEXT) {
      text += child.textContent ?? '';
      continue;
    }
    const n = toNode(child);
    text += ` ${n.text} `;
    if (child.__virtual) children.push(...n.children);
    else children.push(n);
  }
  const vt = node._vt;
  const tag = (vt?.componentId ?? vt?.tagName ?? '').replace(/^wx-/, '');
  return {
    tag,
    attrs: Object.fromEntries((vt?.attrs ?? []).map((a) => [a.name, a.value])),
    events: Object.fromEntries(Object.entries(vt?.event ?? {}).map(([name, e]) => [name, e.handler])),
    text,
    children,
    node,
  };
}

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

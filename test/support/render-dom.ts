/**
 * A browser document for miniprogram-simulate, which renders into `window`/`document` globals: j-component and its
 * exparser build real DOM nodes, and the official WXML compiler's output expects a webview. Imported for its effect,
 * before miniprogram-simulate (test/support/render.ts). jsdom 26 because jest loads it as CommonJS (27+ pulls in
 * ESM-only packages).
 */
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><head></head><body></body></html>', { pretendToBeVisual: true });
const globals = globalThis as Record<string, unknown>;
globals.window = dom.window;
globals.document = dom.window.document;
// j-component dispatches a CustomEvent on its DOM nodes, which must be jsdom's own. Otherwise only what Node lacks:
// its Event, EventTarget and fetch stay Node's, for the real HTTP the tests make.
globals.CustomEvent = dom.window.CustomEvent;
for (const name of ['Node', 'Element', 'HTMLElement', 'requestAnimationFrame', 'getComputedStyle', 'Image'])
  if (!(name in globals)) globals[name] = (dom.window as unknown as Record<string, unknown>)[name];

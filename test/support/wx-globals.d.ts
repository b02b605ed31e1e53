/**
 * WeChat's API typings for the root program (tests + src, with Node's types), so tests can import the mini-program's
 * own modules. miniprogram-api-typings' entry file also declares `console`, `require`, `module`, `exports` and the
 * timers, which clash with Node's; this file references the library files one by one instead and declares only
 * the globals the shim provides. miniprogram/tsconfig.json checks the mini-program against the real entry file.
 */
/// <reference path="../../node_modules/miniprogram-api-typings/types/wx/lib.wx.app.d.ts" />
/// <reference path="../../node_modules/miniprogram-api-typings/types/wx/lib.wx.page.d.ts" />
/// <reference path="../../node_modules/miniprogram-api-typings/types/wx/lib.wx.api.d.ts" />
/// <reference path="../../node_modules/miniprogram-api-typings/types/wx/lib.wx.cloud.d.ts" />
/// <reference path="../../node_modules/miniprogram-api-typings/types/wx/lib.wx.canvas.d.ts" />
/// <reference path="../../node_modules/miniprogram-api-typings/types/wx/lib.wx.component.d.ts" />
/// <reference path="../../node_modules/miniprogram-api-typings/types/wx/lib.wx.glass-easel.d.ts" />
/// <reference path="../../node_modules/miniprogram-api-typings/types/wx/lib.wx.behavior.d.ts" />
/// <reference path="../../node_modules/miniprogram-api-typings/types/wx/lib.wx.event.d.ts" />
/// <reference path="../../node_modules/miniprogram-api-typings/types/wx/lib.wx.wasm.d.ts" />
/// <reference path="../../node_modules/miniprogram-api-typings/types/wx/lib.wx.skyline.d.ts" />

// The helper types miniprogram-api-typings' entry file declares next to its globals.
declare namespace WechatMiniprogram {
  type IAnyObject = Record<string, any>;
  type Optional<F> = F extends (arg: infer P) => infer R ? (arg?: P) => R : F;
  type OptionalInterface<T> = { [K in keyof T]: Optional<T[K]> };
  interface AsyncMethodOptionLike {
    success?: (...args: any[]) => void;
  }
  type PromisifySuccessResult<P, T extends AsyncMethodOptionLike> = P extends { success: any }
    ? void
    : P extends { fail: any }
      ? void
      : P extends { complete: any }
        ? void
        : Promise<Parameters<Exclude<T['success'], undefined>>[0]>;
  type IIRFilterNode = any;
  type WaveShaperNode = any;
  type ConstantSourceNode = any;
  type OscillatorNode = any;
  type GainNode = any;
  type BiquadFilterNode = any;
  type PeriodicWaveNode = any;
  type AudioNode = any;
  type ChannelSplitterNode = any;
  type ChannelMergerNode = any;
  type DelayNode = any;
  type DynamicsCompressorNode = any;
  type ScriptProcessorNode = any;
  type PannerNode = any;
  type AnalyserNode = any;
  type WebGLTexture = any;
  type WebGLRenderingContext = any;
}

declare let wx: WechatMiniprogram.Wx;

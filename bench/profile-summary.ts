/**
 * Aggregates a V8 .cpuprofile (node --cpu-prof) by self time: per function and per module (npm package, Node
 * internal, or file of this app), optionally only over a time window.
 *
 *   node bench/profile-summary.ts <file.cpuprofile> [--from=<µs>] [--to=<µs>] [--top=15]
 *   node bench/profile-summary.ts artifacts/bench/<run>/profiles/server.cpuprofile --results=artifacts/bench/<run>/results.json
 *     (one summary per measured run of that target, over the run's own window)
 *
 * --from/--to are V8 timestamps (CLOCK_MONOTONIC µs, the clock of process.hrtime in any process on the machine):
 * `npm run bench` with BENCH_CPU_PROF=1 records each run's window and summarises each scenario on its own.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Entry {
  key: string;
  ms: number;
  /** Share of the busy (non-idle) time in the window. */
  pct: number;
}

export interface ProfileSummary {
  windowMs: number;
  busyMs: number;
  idleMs: number;
  gcMs: number;
  functions: Entry[];
  modules: Entry[];
  /** Time with each module anywhere on the stack (inclusive): e.g. all of logging is the time pino is on the stack. */
  onStack: Entry[];
}

const ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Where a frame's code lives: an npm package, a Node internal module, a file of this app, or a V8 pseudo-frame. */
export function moduleOf(frame: CallFrame): string {
  const url = frame.url;
  if (!url) {
    if (/^\((garbage collector|idle|program|root)\)$/.test(frame.functionName)) return frame.functionName;
    return '(native: V8 builtins, C++)';
  }
  if (url.startsWith('wasm://')) return 'wasm (e.g. undici llhttp)';
  if (url.startsWith('node:')) {
    const parts = url.slice(5).split('/');
    return `node:${parts[0] === 'internal' ? parts.slice(0, Math.min(parts.length, 3)).join('/').replace(/\.js$/, '') : parts[0]}`;
  }
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = path.slice(nm + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  // A server built aside (BENCH_SERVER_REF) lives under artifacts/…/server-build/dist/: name it dist/… like ours.
  const dist = path.lastIndexOf('/dist/');
  return `app: ${dist >= 0 ? path.slice(dist + 1) : path.startsWith(ROOT) ? path.slice(ROOT.length) : path}`;
}

const PSEUDO = /^\((garbage collector|idle|program|root)\)$/;

function functionKey(frame: CallFrame, caller?: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  // Native code (a socket or file write, a builtin) is named after the JS that called it: writeUtf8String under
  // pino is logging, under net.Socket it is a response.
  if (!frame.url) return PSEUDO.test(name) || !caller ? name : `${name} ← ${functionKey(caller)}`;
  const mod = moduleOf(frame);
  const path = frame.url.startsWith('file://') ? fileURLToPath(frame.url) : frame.url;
  const file = path.split('/').slice(-1)[0];
  return `${name}  ${mod.startsWith('app: ') ? mod.slice(5) : `${mod} ${file}`}:${frame.lineNumber + 1}`;
}

export function summarizeProfile(
  profile: CpuProfile,
  opts: { fromUs?: number; toUs?: number; top?: number } = {},
): ProfileSummary {
  const top = opts.top ?? 15;
  const byId = new Map<number, CallFrame>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n.callFrame);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  /**
   * Who a native frame works for: the nearest frame above it outside Node's own modules (a package or this app),
   * else the nearest JS frame. A socket write is then mysql2's, fastify's or sonic-boom's, not stream_base_commons'.
   */
  const jsCaller = (id: number): CallFrame | undefined => {
    let nearest: CallFrame | undefined;
    for (let p = parent.get(id); p !== undefined; p = parent.get(p)) {
      const frame = byId.get(p);
      if (!frame?.url) continue;
      nearest ??= frame;
      if (!frame.url.startsWith('node:')) return frame;
    }
    return nearest;
  };
  const stackModules = new Map<number, string[]>();
  const modulesOnStack = (id: number): string[] => {
    let mods = stackModules.get(id);
    if (mods) return mods;
    const p = parent.get(id);
    const frame = byId.get(id)!;
    const above = p === undefined ? [] : modulesOnStack(p);
    const mine = frame.url ? moduleOf(frame) : undefined;
    mods = mine && !above.includes(mine) ? [...above, mine] : above;
    stackModules.set(id, mods);
    return mods;
  };
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let t = profile.startTime;
  let windowUs = 0;
  let idleUs = 0;
  let gcUs = 0;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i] ?? 0;
    // A sample stands for the time until the next one (as Chrome DevTools counts it).
    const dur = i + 1 < samples.length ? (timeDeltas[i + 1] ?? 0) : 0;
    if ((opts.fromUs !== undefined && t < opts.fromUs) || (opts.toUs !== undefined && t > opts.toUs)) continue;
    const frame = byId.get(samples[i]);
    if (!frame) continue;
    windowUs += dur;
    if (frame.functionName === '(idle)') {
      idleUs += dur;
      continue;
    }
    if (frame.functionName === '(garbage collector)') gcUs += dur;
    const caller = frame.url || PSEUDO.test(frame.functionName) ? undefined : jsCaller(samples[i]);
    const fk = functionKey(frame, caller);
    fn.set(fk, (fn.get(fk) ?? 0) + dur);
    const mk = caller ? `(native) ← ${moduleOf(caller)}` : moduleOf(frame);
    mod.set(mk, (mod.get(mk) ?? 0) + dur);
    for (const m of modulesOnStack(samples[i]))
      if (!m.startsWith('node:')) inclusive.set(m, (inclusive.get(m) ?? 0) + dur);
  }
  const busyUs = windowUs - idleUs;
  const rank = (m: Map<string, number>): Entry[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => ({ key, ms: us / 1000, pct: busyUs > 0 ? (100 * us) / busyUs : 0 }));
  return {
    windowMs: windowUs / 1000,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    gcMs: gcUs / 1000,
    functions: rank(fn),
    modules: rank(mod),
    onStack: rank(inclusive),
  };
}

export function formatSummary(title: string, s: ProfileSummary): string {
  const rows = (entries: Entry[]) =>
    entries
      .map((e, i) => `| ${i + 1} | ${e.pct.toFixed(1)}% | ${e.ms.toFixed(0)} | \`${e.key.replace(/\|/g, '\\|')}\` |`)
      .join('\n');
  return [
    `### ${title}`,
    '',
    `Window ${(s.windowMs / 1000).toFixed(1)} s: busy ${(s.busyMs / 1000).toFixed(1)} s (${s.windowMs ? ((100 * s.busyMs) / s.windowMs).toFixed(0) : 0}% of one core), ` +
      `idle ${(s.idleMs / 1000).toFixed(1)} s, GC ${(s.gcMs / 1000).toFixed(2)} s. Percentages are of busy time.`,
    '',
    '| # | self | ms | module (native code counted under the module that called it) |',
    '|---:|---:|---:|---|',
    rows(s.modules),
    '',
    '| # | on stack | ms | package or app file (inclusive: time with it anywhere on the stack) |',
    '|---:|---:|---:|---|',
    rows(s.onStack),
    '',
    '| # | self | ms | function |',
    '|---:|---:|---:|---|',
    rows(s.functions),
    '',
  ].join('\n');
}

function main() {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--'));
  if (!file) {
    console.error(
      'usage: node bench/profile-summary.ts <file.cpuprofile> [--from=<µs>] [--to=<µs>] [--top=15] [--results=<results.json>]',
    );
    process.exit(2);
  }
  const raw = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const flag = (name: string) => {
    const v = raw(name);
    return v === undefined ? undefined : Number(v);
  };
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const results = raw('results');
  if (!results) {
    console.log(
      formatSummary(file, summarizeProfile(profile, { fromUs: flag('from'), toUs: flag('to'), top: flag('top') })),
    );
    return;
  }
  // The profile of bench/run.ts's target `<name>.cpuprofile`, cut into the windows of that target's measured runs.
  const target = file
    .split('/')
    .pop()!
    .replace(/\.cpuprofile$/, '');
  const { runs } = JSON.parse(readFileSync(results, 'utf8')) as {
    runs: { scenario: string; target: string; round: number; windowUs: [number, number] }[];
  };
  for (const r of runs.filter((x) => x.target === target)) {
    console.log(
      formatSummary(
        `${target} — ${r.scenario} (round ${r.round})`,
        summarizeProfile(profile, { fromUs: r.windowUs[0], toUs: r.windowUs[1], top: flag('top') }),
      ),
    );
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();

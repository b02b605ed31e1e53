/**
 * `npm run bench`: the built server beside a bare baseline (bench/baseline.ts), on MariaDB + Redis, with the WeChat
 * simulator in its own process, scenario by scenario, alternating server and baseline. See bench/RESULTS.md.
 *
 * Settings (environment, or the same name as a flag: BENCH_DURATION=5 or --duration=5):
 *   BENCH_SCENARIOS     me,login,updateProfile,createPayment,notify
 *   BENCH_TARGETS       server,baseline
 *   BENCH_DURATION      10     seconds per measured run
 *   BENCH_CONNECTIONS   32
 *   BENCH_ROUNDS        2      rounds per scenario; the order alternates (server first, then baseline first, …)
 *   BENCH_PREWARM       5      seconds of each scenario (BENCH_WARMUP_REQUESTS for login, notify) on each target
 *                              before anything is measured, so no scenario pays for the cold start
 *   BENCH_WARMUP        3      seconds of warm-up before each timed run (me, updateProfile, createPayment)
 *   BENCH_WARMUP_REQUESTS 2000 warm-up requests before each counted run (login, notify); their rate sizes the run
 *   BENCH_USERS         1000   logged-in users per target (tokens cycle through them)
 *   BENCH_LOG_LEVEL     info   the server's LOG_LEVEL (e.g. warn, to see what logging costs)
 *   BENCH_SIMULATOR_XML_LAYOUT wechat  the simulator's SIMULATOR_XML_LAYOUT; compact for a BENCH_SERVER_REF from
 *                              before the layout fix, which cannot read WeChat's own layout
 *   BENCH_CPU_PROF      0      1: run both targets under --cpu-prof and summarise each scenario's window
 *   BENCH_NODE_ARGS     (none) extra node flags for both targets, e.g. "--trace-gc" (the server always gets the
 *                              node flags of package.json's start script first: it runs as `npm start` runs it)
 *   BENCH_MYSQL_URL     mysql://root@127.0.0.1:3306
 *   BENCH_REDIS_URL     redis://127.0.0.1:6379   (the bench claims an empty logical database and flushes it after)
 *   BENCH_REDIS_DB      (auto) force that logical database
 *   BENCH_SERVER_REF    (none) benchmark the server as committed at this git ref (built aside with git archive;
 *                              working tree and index untouched) instead of this checkout's dist/
 *   BENCH_KEEP          0      1: keep the databases (and the Redis database) for inspection
 *   BENCH_MAX_INPUTS    300000 most login codes / PENDING orders one counted run may prepare
 *   BENCH_SCALE         (none) e.g. 1000000: the scale runs instead of the table. The server alone runs me and login
 *                              with BENCH_USERS users and sessions, is then seeded up to BENCH_SCALE users and as many
 *                              live sessions (bulk INSERTs, pipelined SETs), runs them again, and the report gives the
 *                              ratio of the two and the plan (EXPLAIN) of every statement the server sent
 *   BENCH_OUT           artifacts/bench/<timestamp>   logs, results.json, results.md, profiles
 *
 * Exit status: 0 when every run was valid (whatever the targets say: this is a measurement), 1 when the harness
 * broke (setup failed, a run had > 1% errors, or the database does not show the work the answers claim), 130 on Ctrl-C.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { inspect } from 'node:util';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { DIST, SIMULATOR_IDENTITY, serverStartFlags } from './lib/dist.ts';
import { runLoad, stopCurrentLoad, type LoadResult } from './lib/load.ts';
import {
  answers200,
  findPid,
  freePort,
  killAllChildrenNow,
  machineCpu,
  sampleUsage,
  startNode,
  statusMb,
  stopAllChildren,
  waitUntil,
  type Child,
  type Usage,
} from './lib/procs.ts';
import {
  benchProfile,
  loginThrough,
  pooled,
  SCENARIOS,
  scenarios,
  simulatorClient,
  type Batch,
  type ScenarioName,
  type Target,
} from './lib/scenarios.ts';
import {
  buildServerAt,
  claimRedisDb,
  DB_PREFIX,
  migrate,
  mysqlAdmin,
  type MysqlAdmin,
  type RedisSlot,
} from './lib/services.ts';
import { formatSummary, summarizeProfile, type CpuProfile } from './profile-summary.ts';
import {
  capturePlans,
  seedSessions,
  seedUsers,
  sessionFormat,
  SESSIONS_PER_BATCH,
  shuffle,
  USER_ROWS_PER_INSERT,
  type StatementPlan,
} from './lib/seed.ts';

// --- options ---------------------------------------------------------------------------------------------

for (const arg of process.argv.slice(2)) {
  if (arg === '--help' || arg === '-h') {
    console.log(
      readFileSync(new URL(import.meta.url), 'utf8')
        .split('*/')[0]
        .replace(/^\/\*\*?|^ \* ?/gm, ''),
    );
    process.exit(0);
  }
  const m = /^--([a-z-]+)=(.*)$/.exec(arg);
  if (!m) {
    console.error(`unknown argument ${arg} (use --name=value, e.g. --duration=5, or --help)`);
    process.exit(2);
  }
  process.env[`BENCH_${m[1].toUpperCase().replace(/-/g, '_')}`] = m[2];
}

const env = process.env;
const int = (name: string, def: number, min = 1) => {
  const v = env[name] === undefined || env[name] === '' ? def : Number(env[name]);
  if (!Number.isFinite(v) || v < min) {
    console.error(`${name} must be a number >= ${min}`);
    process.exit(2);
  }
  return v;
};
const list = <T extends string>(name: string, all: readonly T[]): T[] => {
  const v = (env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!v.length) return [...all];
  const bad = v.filter((s) => !all.includes(s as T));
  if (bad.length) {
    console.error(`${name}: unknown ${bad.join(', ')} (known: ${all.join(', ')})`);
    process.exit(2);
  }
  return v as T[];
};

const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const opts = {
  scenarios: list('BENCH_SCENARIOS', SCENARIOS),
  targets: env.BENCH_SCALE ? (['server'] as const).slice() : list('BENCH_TARGETS', ['server', 'baseline'] as const),
  duration: int('BENCH_DURATION', 10),
  connections: int('BENCH_CONNECTIONS', 32),
  rounds: int('BENCH_ROUNDS', 2),
  warmup: int('BENCH_WARMUP', 3, 0),
  prewarm: int('BENCH_PREWARM', 5, 0),
  warmupRequests: int('BENCH_WARMUP_REQUESTS', 2000, 0),
  users: int('BENCH_USERS', 1000),
  logLevel: env.BENCH_LOG_LEVEL || 'info',
  simulatorXmlLayout: env.BENCH_SIMULATOR_XML_LAYOUT || 'wechat',
  cpuProf: env.BENCH_CPU_PROF === '1',
  /** Extra node flags for both targets, e.g. "--max-semi-space-size=8". */
  nodeArgs: (env.BENCH_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
  mysqlUrl: env.BENCH_MYSQL_URL || 'mysql://root@127.0.0.1:3306',
  redisUrl: env.BENCH_REDIS_URL || 'redis://127.0.0.1:6379',
  redisDb: env.BENCH_REDIS_DB ? int('BENCH_REDIS_DB', 0, 0) : undefined,
  keep: env.BENCH_KEEP === '1',
  /** A git ref to build the server from instead of the working tree (e.g. the commit before an optimisation). */
  serverRef: env.BENCH_SERVER_REF || undefined,
  out: env.BENCH_OUT || new URL(`../artifacts/bench/${stamp}`, import.meta.url).pathname,
  /** Most inputs one counted run may prepare (login codes, PENDING orders). */
  maxInputs: int('BENCH_MAX_INPUTS', 300_000),
  /** Users and live sessions to grow to for the scale runs (BENCH_SCALE), or undefined for the usual table. */
  scale: env.BENCH_SCALE ? int('BENCH_SCALE', 0, 2) : undefined,
};
/** What the scale runs measure: the read every request makes (me) and the write every new user makes (login). */
const SCALE_SCENARIOS: ScenarioName[] = ['me', 'login'];
/** The scenarios measured in this invocation. */
const measured: ScenarioName[] = opts.scale ? SCALE_SCENARIOS : opts.scenarios;

/**
 * Issue 16's targets: throughput at least `ratio` of the baseline's (`meRatio` for me), p99 at most `p99Ratio` times the
 * baseline's, peak RSS at most `rssMb`; at BENCH_SCALE users, throughput at least `scaleRatio` of its own at BENCH_USERS.
 */
const TARGETS = { ratio: 0.6, meRatio: 0.7, p99Ratio: 2, rssMb: 256, scaleRatio: 0.85 };
/** % of a CPU used by processes other than ours above which a run is reported as disturbed. */
const OTHER_CPU_DISTURBED = 25;
/** A run with more errors than this measured something other than the work. */
const MAX_ERROR_RATE = 0.01;

// --- lifecycle -------------------------------------------------------------------------------------------

const t0 = Date.now();
const log = (msg: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}`);

let admin: MysqlAdmin | undefined;
let redisSlot: RedisSlot | undefined;
const databases: string[] = [];
const connections: Connection[] = [];
let interrupted = false;
let shuttingDown: Promise<void> | undefined;

class Interrupted extends Error {}
const checkpoint = () => {
  if (interrupted) throw new Interrupted('interrupted');
};

/** Stops the load, the children (by pid), drops our databases and flushes our Redis database. Idempotent. */
function cleanup(): Promise<void> {
  shuttingDown ??= (async () => {
    stopCurrentLoad();
    await stopAllChildren();
    await Promise.allSettled(connections.map((c) => c.end()));
    if (admin) {
      if (opts.keep) log(`kept databases ${databases.join(', ')} (BENCH_KEEP=1)`);
      else
        for (const name of databases)
          await admin.drop(name).catch((err: Error) => console.error(`could not drop ${name}: ${err.message}`));
      await admin.close().catch(() => undefined);
    }
    if (redisSlot) {
      if (opts.keep) log(`kept Redis database ${redisSlot.db}`);
      else
        await redisSlot
          .release()
          .catch((err: Error) => console.error(`could not flush Redis db ${redisSlot?.db}: ${err.message}`));
    }
  })();
  return shuttingDown;
}

function onSignal(signal: string) {
  if (interrupted) {
    killAllChildrenNow();
    process.exit(130);
  }
  interrupted = true;
  console.error(`\n${signal}: stopping the run and cleaning up (press again to force)…`);
  stopCurrentLoad();
  void cleanup().finally(() => process.exit(130));
}
process.on('SIGINT', () => onSignal('SIGINT'));
process.on('SIGTERM', () => onSignal('SIGTERM'));
process.on('exit', killAllChildrenNow);

const gitRev = (ref: string) =>
  spawnSync('git', ['-C', new URL('..', import.meta.url).pathname, 'rev-parse', '--short', ref], {
    encoding: 'utf8',
  }).stdout?.trim() || ref;
const gitDirty = () =>
  (
    spawnSync(
      'git',
      ['--no-optional-locks', '-C', new URL('..', import.meta.url).pathname, 'status', '--porcelain', '--', 'src'],
      { encoding: 'utf8' },
    ).stdout ?? ''
  ).trim() !== '';

// --- machine ---------------------------------------------------------------------------------------------

async function describeMachine(mysql: MysqlAdmin, redisVersion: string) {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const lscpu = spawnSync('lscpu', { encoding: 'utf8' }).stdout ?? '';
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(lscpu)?.[1]?.trim();
  const osName =
    /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(
      existsSync('/etc/os-release') ? readFileSync('/etc/os-release', 'utf8') : '',
    )?.[1] ?? os.type();
  const conn = await mysql.connect('mysql');
  const [rows] = await conn.query<import('mysql2').RowDataPacket[]>(
    'SELECT @@innodb_flush_log_at_trx_commit AS flush, @@innodb_buffer_pool_size AS pool, @@max_connections AS maxConn, @@log_bin AS binlog',
  );
  await conn.end();
  const v = rows[0];
  return {
    cpu: `${model}, ${os.cpus().length} vCPU${field('Hypervisor vendor') ? ` (${field('Hypervisor vendor')} guest)` : ''}${field('Thread\\(s\\) per core') ? `, ${field('Thread\\(s\\) per core')} thread(s) per core` : ''}`,
    ram: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
    os: `${osName}, Linux ${os.release()}`,
    node: process.version,
    mariadb: `${await mysql.version()} (innodb_flush_log_at_trx_commit=${v.flush}, buffer pool ${Math.round(Number(v.pool) / 2 ** 20)} MiB, binlog ${Number(v.binlog) ? 'on' : 'off'})`,
    redis: redisVersion,
  };
}

// --- one run ---------------------------------------------------------------------------------------------

interface RunRecord {
  scenario: ScenarioName;
  target: Target['name'];
  round: number;
  result: LoadResult;
  usage: Usage;
  /** Requests planned for a counted run (login, notify). */
  amount?: number;
  warmupRps: number;
  /** SQL statements MariaDB received per request (SHOW GLOBAL STATUS Questions). */
  sqlPerReq: number;
  /** Per request, by kind (Com_select → select, …), kinds under 0.05 left out. */
  sqlMix: Record<string, number>;
  /** Commands Redis processed per request (MULTI/EXEC count each command inside). */
  redisPerReq: number;
  problem?: string;
  windowUs: [number, number];
  /** Scale runs: the users (and live sessions) the target held. */
  size?: number;
}

interface LiveTarget extends Target {
  child: Child;
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Checks the database after the target has finished what was in flight when the run ended (a timed run cuts up to
 * one request per connection), so neither this check nor the next run's starting count sees work still under way.
 */
async function settledVerify(batch: Batch, r: LoadResult): Promise<string | undefined> {
  await sleep(1000);
  return batch.verify({ succeeded: r.succeeded, sent: r.sent, cut: r.sent - r.requests });
}

/** While the bench itself is idle for 2 s: other clients on MariaDB or Redis, or other load on the CPUs. */
async function quietCheck(): Promise<string | undefined> {
  const [q0, c0] = await Promise.all([admin!.statementCounters(), redisSlot!.commands()]);
  const m0 = machineCpu();
  await sleep(2000);
  const [q1, c1] = await Promise.all([admin!.statementCounters(), redisSlot!.commands()]);
  const m1 = machineCpu();
  const sql = (q1.Questions - q0.Questions - 1) / 2;
  const redis = (c1 - c0 - 1) / 2;
  const cpu = (100 * (m1.busy - m0.busy)) / 2;
  const busy = [
    sql > 10 && `MariaDB serves ${sql.toFixed(0)} statements/s`,
    redis > 10 && `Redis ${redis.toFixed(0)} commands/s`,
    cpu > 25 && `the CPUs are ${cpu.toFixed(0)}% busy`,
  ].filter(Boolean);
  return busy.length ? `while the bench was idle, ${busy.join(', ')}` : undefined;
}

/** A run that is not measured: `seconds` of a cyclic scenario, or BENCH_WARMUP_REQUESTS of a counted one. */
async function warmUp(
  t: LiveTarget,
  name: ScenarioName,
  ctx: { scenarios: ReturnType<typeof scenarios> },
  seconds: number,
): Promise<{ result?: LoadResult; problem?: string }> {
  const s = ctx.scenarios[name];
  if (s.distinct ? opts.warmupRequests <= 0 : seconds <= 0) return {};
  const count = s.distinct ? Math.max(opts.warmupRequests, opts.connections) : 0;
  const batch = await s.prepare(t, count);
  checkpoint();
  const result = await runLoad({
    url: t.url,
    connections: opts.connections,
    ok: s.ok,
    ...(s.distinct ? { amount: count } : { durationS: seconds }),
    next: batch.next,
  });
  checkpoint();
  const verified = await settledVerify(batch, result);
  const problem =
    result.requests === 0
      ? 'no responses'
      : result.errors / result.requests > MAX_ERROR_RATE
        ? `${result.errors} errors in ${result.requests} responses; e.g. ${result.samples[0] ?? ''}`
        : verified;
  return { result, problem };
}

async function runOne(
  t: LiveTarget,
  name: ScenarioName,
  round: number,
  ctx: { sim: Child; scenarios: ReturnType<typeof scenarios>; dbPid?: number; redisPid?: number },
): Promise<RunRecord> {
  const s = ctx.scenarios[name];
  const base = { url: t.url, connections: opts.connections, ok: s.ok };
  const problems: string[] = [];
  const judge = (what: string, r: LoadResult, verified: string | undefined) => {
    if (r.requests === 0) problems.push(`${what}: no responses`);
    else if (r.errors / r.requests > MAX_ERROR_RATE)
      problems.push(`${what}: ${r.errors} errors in ${r.requests} responses; e.g. ${r.samples[0] ?? ''}`);
    if (verified) problems.push(`${what}: ${verified}`);
  };

  // Warm-up: JIT, pools and caches, on inputs of its own. For counted runs its rate sizes the run to ~BENCH_DURATION.
  const warm = await warmUp(t, name, ctx, opts.warmup);
  if (warm.problem) problems.push(`warm-up: ${warm.problem}`);
  let amount: number | undefined;
  if (s.distinct) {
    const rate = warm.result?.rps ?? 500;
    amount = Math.min(opts.maxInputs, Math.max(opts.connections * 20, Math.round(rate * opts.duration)));
  }
  const batch = await s.prepare(t, amount ?? 0);
  checkpoint();

  const [q0, c0] = await Promise.all([admin!.statementCounters(), redisSlot!.commands()]);
  const usage = sampleUsage(t.child.pid, { target: t.child.pid, sim: ctx.sim.pid, db: ctx.dbPid, redis: ctx.redisPid });
  const from = nowUs();
  const result = await runLoad({
    ...base,
    ...(amount !== undefined ? { amount } : { durationS: opts.duration }),
    next: batch.next,
  });
  const to = nowUs();
  const u = usage.stop();
  const [q1, c1] = await Promise.all([admin!.statementCounters(), redisSlot!.commands()]);
  // Per request sent: a timed run's cut-off requests did their work too. Both counters are server-wide (the one
  // SHOW STATUS and INFO of our own are taken off).
  const sqlPerReq = (q1.Questions - q0.Questions - 1) / result.sent;
  const sqlMix = Object.fromEntries(
    Object.keys(q1)
      .filter((k) => k.startsWith('Com_'))
      .map((k) => [k.slice(4), (q1[k] - q0[k]) / result.sent])
      .filter(([, v]) => (v as number) >= 0.05),
  ) as Record<string, number>;
  const redisPerReq = (c1 - c0 - 1) / result.sent;
  checkpoint();
  judge('run', result, await settledVerify(batch, result));
  const problem = problems.length ? problems.join('; ') : undefined;
  log(
    `${name.padEnd(13)} ${t.name.padEnd(8)} r${round}: ${result.rps.toFixed(0).padStart(6)} req/s  p50 ${result.p50.toFixed(2)} ms  p99 ${result.p99.toFixed(2)} ms  ` +
      `errors ${result.errors}/${result.requests}  RSS ${u.peakRssMb.toFixed(0)} MB  CPU ${u.cpuPct.target?.toFixed(0)}% (other ${u.cpuPct.other?.toFixed(0)}%)  SQL/req ${sqlPerReq.toFixed(1)}  Redis/req ${redisPerReq.toFixed(1)}` +
      `${problem ? `  PROBLEM: ${problem}` : ''}`,
  );
  return {
    scenario: name,
    target: t.name,
    round,
    result,
    usage: u,
    amount,
    warmupRps: warm.result?.rps ?? NaN,
    sqlPerReq,
    sqlMix,
    redisPerReq,
    problem,
    windowUs: [from, to],
  };
}

// --- report ----------------------------------------------------------------------------------------------

function table(headers: string[], rows: (string | number)[][], align: ('l' | 'r')[] = []): string {
  const cells = rows.map((r) => r.map(String));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i].length)));
  const pad = (s: string, i: number) => ((align[i] ?? 'r') === 'l' ? s.padEnd(widths[i]) : s.padStart(widths[i]));
  const line = (r: string[]) => `| ${r.map(pad).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => ((align[i] ?? 'r') === 'l' ? ` ${'-'.repeat(w)} ` : ` ${'-'.repeat(w - 1)}: `)).join('|')}|`;
  return [line(headers), sep, ...cells.map(line)].join('\n');
}

const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '–');
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function runsTable(runs: RunRecord[]): string {
  return table(
    [
      'scenario',
      'target',
      'round',
      'requests',
      'secs',
      'req/s',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'max ms',
      'errors',
      'peak RSS MB',
      'of which anon / file',
      'CPU ms/req',
      'SQL/req',
      'Redis/req',
      'CPU% target',
      'CPU% gen',
      'CPU% sim',
      'CPU% db',
      'CPU% redis',
      'CPU% other',
      'steal%',
    ],
    runs.map((r) => [
      r.scenario,
      r.target,
      r.round,
      r.result.requests,
      f(r.result.elapsedS, 1),
      f(r.result.rps),
      f(r.result.p50, 2),
      f(r.result.p90, 2),
      f(r.result.p99, 2),
      f(r.result.max, 1),
      r.result.errors,
      f(r.usage.peakRssMb),
      `${f(r.usage.peakAnonMb)} / ${f(r.usage.peakFileMb)}`,
      f(((r.usage.cpuSec.target ?? NaN) * 1000) / r.result.requests, 2),
      f(r.sqlPerReq, 1),
      f(r.redisPerReq, 1),
      f(r.usage.cpuPct.target ?? NaN),
      f(r.usage.cpuPct.gen ?? NaN),
      f(r.usage.cpuPct.sim ?? NaN),
      f(r.usage.cpuPct.db ?? NaN),
      f(r.usage.cpuPct.redis ?? NaN),
      f(r.usage.cpuPct.other ?? NaN),
      f(r.usage.cpuPct.steal ?? NaN),
    ]),
    ['l', 'l'],
  );
}

function roundTripsTable(runs: RunRecord[]): string {
  const mix = (m: Record<string, number>) =>
    Object.entries(m)
      .map(([k, v]) => `${k} ${f(v, 1)}`)
      .join(' · ') || '–';
  return table(
    ['scenario', 'target', 'SQL/req', 'statements per request', 'Redis cmds/req'],
    runs
      .filter((r) => r.round === 1)
      .map((r) => [r.scenario, r.target, f(r.sqlPerReq, 1), mix(r.sqlMix), f(r.redisPerReq, 1)]),
    ['l', 'l', 'r', 'l'],
  );
}

function summaryTable(runs: RunRecord[]): { text: string; rows: Record<string, unknown>[] } {
  const rows: Record<string, unknown>[] = [];
  const out: (string | number)[][] = [];
  for (const scenario of measured) {
    const of = (target: string) => runs.filter((r) => r.scenario === scenario && r.target === target);
    const s = of('server');
    const b = of('baseline');
    const agg = (rs: RunRecord[]) =>
      rs.length
        ? {
            rps: mean(rs.map((r) => r.result.rps)),
            p50: mean(rs.map((r) => r.result.p50)),
            p99: mean(rs.map((r) => r.result.p99)),
            rss: Math.max(...rs.map((r) => r.usage.peakRssMb)),
          }
        : undefined;
    const sa = agg(s);
    const ba = agg(b);
    const ratio = sa && ba ? sa.rps / ba.rps : NaN;
    const p99Ratio = sa && ba ? sa.p99 / ba.p99 : NaN;
    const wanted = scenario === 'me' ? TARGETS.meRatio : TARGETS.ratio;
    const pass = (ok: boolean | undefined) => (ok === undefined ? '–' : ok ? 'pass' : 'FAIL');
    const okRatio = Number.isFinite(ratio) ? ratio >= wanted : undefined;
    const okP99 = Number.isFinite(p99Ratio) ? p99Ratio <= TARGETS.p99Ratio : undefined;
    const okRss = sa ? sa.rss <= TARGETS.rssMb : undefined;
    rows.push({
      scenario,
      server: sa,
      baseline: ba,
      ratio,
      p99Ratio,
      pass: { ratio: okRatio, p99: okP99, rss: okRss },
    });
    out.push([
      scenario,
      f(sa?.rps ?? NaN),
      f(ba?.rps ?? NaN),
      Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '–',
      `${pass(okRatio)} (≥ ${wanted}×)`,
      f(sa?.p50 ?? NaN, 2),
      f(sa?.p99 ?? NaN, 2),
      f(ba?.p50 ?? NaN, 2),
      f(ba?.p99 ?? NaN, 2),
      Number.isFinite(p99Ratio) ? `${p99Ratio.toFixed(2)}×` : '–',
      pass(okP99),
      f(sa?.rss ?? NaN),
      pass(okRss),
      f(ba?.rss ?? NaN),
    ]);
  }
  const text = table(
    [
      'scenario',
      'server req/s',
      'baseline req/s',
      'ratio',
      'target',
      'server p50',
      'server p99',
      'baseline p50',
      'baseline p99',
      'p99 ratio',
      `≤ ${TARGETS.p99Ratio}×`,
      'server RSS MB',
      `≤ ${TARGETS.rssMb} MB`,
      'baseline RSS MB',
    ],
    out,
    ['l'],
  );
  return { text, rows };
}

/** The server at BENCH_USERS users against itself at BENCH_SCALE users: one row per scenario. */
function scaleTable(
  runs: RunRecord[],
  sizes: { small: number; large: number },
): { text: string; rows: Record<string, unknown>[] } {
  const rows: Record<string, unknown>[] = [];
  const out: (string | number)[][] = [];
  for (const scenario of SCALE_SCENARIOS) {
    const at = (size: number) => runs.filter((r) => r.scenario === scenario && r.size === size);
    const agg = (rs: RunRecord[]) => ({
      rps: mean(rs.map((r) => r.result.rps)),
      p99: mean(rs.map((r) => r.result.p99)),
      cpu: mean(rs.map((r) => ((r.usage.cpuSec.target ?? NaN) * 1000) / r.result.requests)),
      rss: Math.max(...rs.map((r) => r.usage.peakRssMb)),
    });
    const small = agg(at(sizes.small));
    const large = agg(at(sizes.large));
    const ratio = large.rps / small.rps;
    rows.push({ scenario, small, large, ratio, pass: ratio >= TARGETS.scaleRatio });
    out.push([
      scenario,
      f(small.rps),
      f(large.rps),
      `${ratio.toFixed(2)}×`,
      ratio >= TARGETS.scaleRatio ? 'pass' : 'FAIL',
      f(small.p99, 2),
      f(large.p99, 2),
      f(small.cpu, 2),
      f(large.cpu, 2),
      f(large.rss),
    ]);
  }
  const text = table(
    [
      'scenario',
      `req/s at ${sizes.small}`,
      `req/s at ${sizes.large}`,
      'ratio',
      `≥ ${TARGETS.scaleRatio}×`,
      `p99 ms at ${sizes.small}`,
      `p99 ms at ${sizes.large}`,
      `CPU ms/req at ${sizes.small}`,
      `CPU ms/req at ${sizes.large}`,
      'peak RSS MB',
    ],
    out,
    ['l'],
  );
  return { text, rows };
}

// --- scale ---------------------------------------------------------------------------------------------

interface ScaleReport {
  sizes: { small: number; large: number };
  notes: string[];
  plans: StatementPlan[];
}

/** Rows, data and index size of a table, and Redis's memory, as the scale report states them. */
async function sizes(db: Connection): Promise<string> {
  // information_schema's sizes are InnoDB's estimates, refreshed by ANALYZE.
  await db.query('ANALYZE TABLE users');
  const [rows] = await db.query<RowDataPacket[]>(
    "SELECT table_rows, data_length, index_length FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'users'",
  );
  const users = await db.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM users');
  const r = rows[0];
  return `users: ${users[0][0].n} rows, ${(Number(r.data_length) / 2 ** 20).toFixed(0)} MiB data + ${(Number(r.index_length) / 2 ** 20).toFixed(0)} MiB indexes; Redis used_memory ${((await redisSlot!.usedMemory()) / 2 ** 20).toFixed(0)} MiB`;
}

/**
 * me and login on the server with BENCH_USERS seeded users and live sessions; then seeded up to `large` users and as
 * many sessions; the plans of every statement the server sends at that size; and me and login again. Both sizes read
 * seeded users only (full profiles, sessions in random order), so they differ in nothing but the count. The users
 * logged in through the API at setup serve the session format and the updateProfile burst of the plan capture.
 */
async function scaleRuns(
  t: LiveTarget,
  large: number,
  ctx: Parameters<typeof runOne>[3],
  runs: RunRecord[],
): Promise<ScaleReport> {
  const small = opts.users;
  if (large <= small) throw new Error(`BENCH_SCALE (${large}) must be above BENCH_USERS (${small})`);
  const notes: string[] = [];
  const format = await sessionFormat(redisSlot!.url, t.users[0]);
  const setupUsers = t.users;
  const tag = (Date.now() % 1e6).toString(36);
  const seed = async (count: number, part: string) => {
    const started = Date.now();
    const users = await seedUsers(t.db, count, `${part}${tag}`);
    const usersSeconds = (Date.now() - started) / 1000;
    checkpoint();
    const sessionsStarted = Date.now();
    const sessions = await seedSessions(redisSlot!.url, format, users);
    const sessionsSeconds = (Date.now() - sessionsStarted) / 1000;
    log(
      `seeded ${users.length} users in ${usersSeconds.toFixed(1)} s and their sessions in ${sessionsSeconds.toFixed(1)} s`,
    );
    notes.push(
      `seeded ${users.length} users (multi-row INSERTs of ${USER_ROWS_PER_INSERT}) in ${usersSeconds.toFixed(1)} s and as many live sessions (pipelined SETs, ${SESSIONS_PER_BATCH} a round trip) in ${sessionsSeconds.toFixed(1)} s`,
    );
    checkpoint();
    return sessions;
  };
  const measureAt = async (size: number) => {
    for (const scenario of SCALE_SCENARIOS)
      for (let round = 1; round <= opts.rounds; round++)
        runs.push({ ...(await runOne(t, scenario, round, ctx)), size });
  };

  const first = await seed(small, 'a');
  t.users = shuffle([...first]);
  notes.push(`at ${small}: ${await sizes(t.db)} (the setup's and the pre-warm's logins are the rest)`);
  await measureAt(small);

  const rest = await seed(large - small, 'b');
  const all = shuffle([...first, ...rest]);
  t.users = all;
  notes.push(`at ${large}: ${await sizes(t.db)}`);

  // A burst of every scenario at this size, its statements captured: the plans the hot paths get on a big table.
  const plans = await capturePlans(admin!.root, t.db, async () => {
    for (const scenario of SCENARIOS) {
      // updateProfile alternates the profiles sealed at setup for the setup users: it runs over those alone.
      t.users = scenario === 'updateProfile' ? setupUsers : all;
      const w = await warmUp(t, scenario, ctx, 1);
      if (w.problem) throw new Error(`plan capture, ${scenario}: ${w.problem}`);
    }
    t.users = all;
  });
  const flagged = plans.filter((p) => p.concern);
  log(`${plans.length} statement shapes captured, ${flagged.length} with a plan that grows with the table`);
  checkpoint();

  await measureAt(large);
  notes.push(`after the runs: ${await sizes(t.db)}`);
  return { sizes: { small, large }, notes, plans };
}

function plansText(plans: StatementPlan[]): string {
  return table(
    ['statement', 'sent', 'table', 'type', 'key', 'rows', 'Extra', 'concern'],
    plans.flatMap((p) =>
      p.plan.map((r, i) => [
        i === 0 ? `\`${p.statement.slice(0, 160).replace(/\|/g, '\\|')}${p.statement.length > 160 ? '…' : ''}\`` : '',
        i === 0 ? p.count : '',
        String(r.table ?? ''),
        String(r.type ?? ''),
        String(r.key ?? '–'),
        String(r.rows ?? ''),
        String(r.Extra ?? '').replace(/\|/g, '\\|'),
        i === 0 ? (p.concern ?? 'none') : '',
      ]),
    ),
    ['l', 'r', 'l', 'l', 'l', 'r', 'l', 'l'],
  );
}

// --- main ------------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  for (const path of Object.values(DIST)) {
    if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build\` first (npm run bench does)`);
  }
  mkdirSync(opts.out, { recursive: true });
  // The server under test: this checkout's dist/ (npm run bench builds it), or a committed version built aside. The
  // simulator, the baseline's helpers and the bench itself always come from this checkout.
  let serverDist = new URL('../dist', import.meta.url).pathname;
  if (opts.serverRef) {
    log(`building the server at ${opts.serverRef} into ${opts.out}/server-build`);
    serverDist = buildServerAt(opts.serverRef, `${opts.out}/server-build`);
  }
  const serverMain = `${serverDist}/main.js`;
  const serverFlags = serverStartFlags(opts.serverRef);
  const serverMigrate = `${serverDist}/cli/migrate.js`;
  const profDir = `${opts.out}/profiles`;
  if (opts.cpuProf) mkdirSync(profDir, { recursive: true });

  // Services: a fresh database per target, migrated by the server's own migrations; a Redis database of our own.
  admin = await mysqlAdmin(opts.mysqlUrl);
  const stale = await admin.dropStale(3600);
  if (stale.length)
    log(`dropped ${stale.length} benchmark database(s) left over by an interrupted run: ${stale.join(', ')}`);
  redisSlot = await claimRedisDb(opts.redisUrl, opts.redisDb);
  const machine = await describeMachine(admin, redisSlot.version);
  log(
    `machine: ${machine.cpu}; ${machine.ram} RAM; ${machine.os}; Node ${machine.node}; MariaDB ${machine.mariadb}; Redis ${machine.redis}`,
  );
  log(`output: ${opts.out}; Redis logical database ${redisSlot.db}`);

  const unix = Math.floor(Date.now() / 1000);
  const dbNames = Object.fromEntries(opts.targets.map((t) => [t, `${DB_PREFIX}${unix}_${t}`])) as Record<
    Target['name'],
    string
  >;
  for (const name of Object.values(dbNames)) {
    await admin.create(name);
    databases.push(name);
  }
  await Promise.all(
    Object.entries(dbNames).map(([t, name]) =>
      migrate(admin!.urlFor(name), `${opts.out}/migrate-${t}.log`, serverMigrate),
    ),
  );
  checkpoint();

  // The WeChat simulator, alone in its process, at warn so its own request logs do not weigh on the machine.
  const simPort = await freePort();
  const sim = startNode(
    'simulator',
    [DIST.simulator, String(simPort)],
    { HOST: '127.0.0.1', LOG_LEVEL: 'warn', SIMULATOR_XML_LAYOUT: opts.simulatorXmlLayout },
    `${opts.out}/simulator.log`,
  );
  const simBase = `http://127.0.0.1:${simPort}`;
  await waitUntil(sim, 'an answer on its port', async () => {
    await (await fetch(`${simBase}/dev/orders/ready`)).arrayBuffer();
    return true;
  });
  const simClient = simulatorClient(simBase);

  const wechatEnv = (port: number) => ({
    WECHAT_APPID: SIMULATOR_IDENTITY.appid,
    WECHAT_SECRET: SIMULATOR_IDENTITY.secret,
    WECHAT_MCH_ID: SIMULATOR_IDENTITY.mchId,
    WECHAT_PAY_KEY: SIMULATOR_IDENTITY.payKey,
    WECHAT_API_BASE: simBase,
    WECHAT_PAY_BASE: simBase,
    WECHAT_NOTIFY_URL: `http://127.0.0.1:${port}/notify`,
    LOGIN_RATE_PER_IP: '1000000',
    LOGIN_RATE_PER_OPENID: '1000000',
    PAY_RATE_PER_USER: '1000000',
  });
  const profArgs = (name: string) => [
    ...opts.nodeArgs,
    ...(opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${name}.cpuprofile`] : []),
  ];

  const targets: LiveTarget[] = [];
  for (const name of opts.targets) {
    const port = await freePort();
    // MEMORY_PROBE_DIR: where bench/memory-probe.ts writes, when BENCH_NODE_ARGS preloads it.
    const common = {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: admin.urlFor(dbNames[name]),
      REDIS_URL: redisSlot.url,
      MEMORY_PROBE_DIR: opts.out,
      ...wechatEnv(port),
    };
    const child =
      name === 'server'
        ? startNode(
            'server',
            [...serverFlags, ...profArgs('server'), serverMain],
            { ...common, NODE_ENV: 'production', LOG_LEVEL: opts.logLevel, MIGRATE_ON_START: '0' },
            `${opts.out}/server.log`,
          )
        : startNode(
            'baseline',
            [...profArgs('baseline'), new URL('./baseline.ts', import.meta.url).pathname],
            common,
            `${opts.out}/baseline.log`,
          );
    const url = `http://127.0.0.1:${port}`;
    await waitUntil(child, 'GET /readyz 200', () => answers200(`${url}/readyz`));
    const db = await admin.connect(dbNames[name]);
    connections.push(db);
    const sequence = Object.fromEntries(SCENARIOS.map((s) => [s, 0])) as Record<ScenarioName, number>;
    targets.push({ name, url, child, db, users: [], sealed: [], sequence });
    log(`${name} ready at ${url} (pid ${child.pid}, log ${child.logPath})`);
  }
  checkpoint();

  // Users: logged in through each target's own API; two profiles each, sealed with the session_key that target holds.
  for (const t of targets) {
    const codes = await simClient.loginCodes(opts.users);
    t.users = await pooled(codes, 16, ({ code }) => loginThrough(t.url, code));
    t.sealed = await pooled(t.users, 16, (u, i) =>
      Promise.all([0, 1].map((v) => simClient.userData(u.openid, benchProfile(i, v)))),
    );
    log(`${t.name}: ${t.users.length} users logged in, ${t.users.length * 2} profiles sealed`);
    checkpoint();
  }

  const ctx = {
    sim,
    scenarios: scenarios(simClient),
    dbPid: findPid(['mariadbd', 'mysqld']),
    redisPid: findPid(['redis-server']),
  };

  // MariaDB, Redis and the CPUs are shared with whoever else uses this machine: say so when they are not quiet.
  const quiet = await quietCheck();
  if (quiet) log(`WARNING: ${quiet}. Figures taken now may be disturbed (see the CPU% other column).`);
  // Pre-warm: every scenario once on each target before anything is measured. A cold server needs ~10 s of traffic
  // before its first scenario reaches steady state; without this, whichever scenario came first would pay for it.
  if (opts.prewarm > 0) {
    for (const t of targets) {
      for (const scenario of measured) {
        const w = await warmUp(t, scenario, ctx, opts.prewarm);
        if (w.problem) throw new Error(`pre-warm ${scenario} on ${t.name}: ${w.problem}`);
      }
      log(`${t.name}: pre-warmed (${measured.join(', ')})`);
    }
  }

  const runs: RunRecord[] = [];
  let scale: ScaleReport | undefined;
  if (opts.scale) {
    scale = await scaleRuns(targets[0], opts.scale, ctx, runs);
  } else {
    for (const scenario of opts.scenarios) {
      for (let round = 1; round <= opts.rounds; round++) {
        const order = round % 2 === 1 ? targets : [...targets].reverse();
        for (const t of order) runs.push(await runOne(t, scenario, round, ctx));
      }
    }
  }
  const hwm = Object.fromEntries(targets.map((t) => [t.name, statusMb(t.child.pid, 'VmHWM')]));

  // Profiles are written when the process exits, so the children stop before they are read.
  await stopAllChildren();
  const profileText: string[] = [];
  if (opts.cpuProf) {
    for (const t of targets) {
      const file = `${profDir}/${t.name}.cpuprofile`;
      if (!existsSync(file)) {
        profileText.push(`(no profile at ${file})`);
        continue;
      }
      const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
      for (const r of runs.filter((x) => x.target === t.name)) {
        const title = `${t.name} — ${r.scenario} (round ${r.round}, ${f(r.result.rps)} req/s under the profiler)`;
        profileText.push(
          formatSummary(title, summarizeProfile(profile, { fromUs: r.windowUs[0], toUs: r.windowUs[1], top: 15 })),
        );
      }
    }
  }

  const summary = scale ? scaleTable(runs, scale.sizes) : summaryTable(runs);
  const problems = runs.filter((r) => r.problem);
  const disturbed = runs.filter((r) => (r.usage.cpuPct.other ?? 0) > OTHER_CPU_DISTURBED);
  const settings =
    `${opts.connections} connections, ${opts.duration} s per run, ${opts.rounds} round(s), pre-warm ${opts.prewarm} s per scenario, warm-up ${opts.warmup} s / ${opts.warmupRequests} requests, ` +
    `${opts.users} users per target, server ${opts.serverRef ? `built at ${opts.serverRef}${gitRev(opts.serverRef) !== opts.serverRef ? ` (${gitRev(opts.serverRef)})` : ''}` : `from the working tree (HEAD ${gitRev('HEAD')}${gitDirty() ? ' + uncommitted changes in src/' : ''})`}, LOG_LEVEL=${opts.logLevel}, server started as \`npm start\` does: node ${serverFlags.join(' ') || '(no flags)'} dist/main.js${opts.nodeArgs.length ? `, node ${opts.nodeArgs.join(' ')}` : ''}${opts.cpuProf ? ', UNDER --cpu-prof (figures not comparable with unprofiled runs)' : ''}`;
  const report = [
    `# Bench ${stamp}`,
    '',
    `- CPU: ${machine.cpu}`,
    `- RAM: ${machine.ram}`,
    `- OS: ${machine.os}`,
    `- Node: ${machine.node}`,
    `- MariaDB: ${machine.mariadb}`,
    `- Redis: ${machine.redis}`,
    `- Settings: ${settings}`,
    '',
    ...(scale
      ? [
          `## Scale: the server at ${scale.sizes.small} users and sessions, then at ${scale.sizes.large} (means over rounds)`,
          '',
          summary.text,
          '',
          ...scale.notes.map((n) => `- ${n}`),
          '',
          `## Plans at ${scale.sizes.large} users: every statement the server sent during a burst of every scenario (EXPLAIN)`,
          '',
          plansText(scale.plans),
          '',
        ]
      : ['## Summary (server vs baseline; means over rounds, RSS is the max)', '', summary.text, '']),
    '## Every run',
    '',
    runsTable(runs),
    '',
    `Peak RSS over the whole life of each process (VmHWM): ${Object.entries(hwm)
      .map(([k, v]) => `${k} ${f(v ?? NaN)} MB`)
      .join(', ')}.`,
    '',
    '## Round trips per request (round 1; MariaDB statement counters and Redis commands, server-wide)',
    '',
    roundTripsTable(runs),
    '',
    ...(problems.length
      ? [
          '## Harness problems (these runs are not valid measurements)',
          '',
          ...problems.map((r) => `- ${r.scenario} ${r.target} r${r.round}: ${r.problem}`),
          '',
        ]
      : []),
    ...(quiet || disturbed.length
      ? [
          '## Disturbed (something else was using the machine: rerun when it is quiet)',
          '',
          ...(quiet ? [`- Before the runs, ${quiet.replace(/^while/, 'while')}.`] : []),
          ...disturbed.map(
            (r) =>
              `- ${r.scenario} ${r.target} r${r.round}: ${f(r.usage.cpuPct.other ?? NaN)}% of a CPU went to other processes.`,
          ),
          '',
        ]
      : []),
    ...(profileText.length ? ['## CPU profiles (self time)', '', ...profileText] : []),
  ].join('\n');
  writeFileSync(`${opts.out}/results.md`, report + '\n');
  writeFileSync(
    `${opts.out}/results.json`,
    JSON.stringify({ stamp, machine, opts, targets: TARGETS, summary: summary.rows, scale, runs, hwm }, null, 2),
  );

  console.log('\n' + report);
  console.log(`\nWritten to ${opts.out}/results.md (and results.json, logs${opts.cpuProf ? ', profiles' : ''}).`);
  if (quiet || disturbed.length)
    console.error(`\nWARNING: the machine was not quiet (${disturbed.length} run(s) disturbed); see the report.`);
  if (problems.length) {
    console.error(`\nHarness problem in ${problems.length} run(s): those figures are not valid measurements (exit 1).`);
    return 1;
  }
  return 0;
}

main().then(
  async (code) => {
    await cleanup();
    process.exit(code);
  },
  async (err: unknown) => {
    if (!(err instanceof Interrupted)) {
      const cause = (err as { cause?: unknown })?.cause;
      console.error(
        `\nbench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}${cause ? `\n  cause: ${cause instanceof Error ? (cause.stack ?? cause.message) : inspect(cause)}` : ''}`,
      );
    }
    await cleanup();
    process.exit(interrupted ? 130 : 1);
  },
);

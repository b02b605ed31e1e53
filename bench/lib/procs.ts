import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A child process the bench started, with its output in a log file. */
export interface Child {
  name: string;
  pid: number;
  logPath: string;
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  exited: Promise<number | string>;
  running(): boolean;
}

const children = new Set<{ child: Child; proc: ChildProcess }>();

/** Starts `node <args>` with its stdout and stderr appended to `logPath`. */
export function startNode(name: string, args: string[], env: Record<string, string>, logPath: string): Child {
  const fd = openSync(logPath, 'a');
  const proc = spawn(process.execPath, args, {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${args.join(' ')}`);
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    proc.once('exit', (code, signal) => {
      done = true;
      resolve(code ?? signal ?? 'unknown');
    });
    proc.once('error', () => {
      done = true;
      resolve('spawn error');
    });
  });
  const child: Child = { name, pid: proc.pid, logPath, exited, running: () => !done };
  const entry = { child, proc };
  children.add(entry);
  void exited.then(() => children.delete(entry));
  return child;
}

/** SIGTERM (a graceful stop: the server drains, and --cpu-prof writes its profile), then SIGKILL after `graceMs`. */
export async function stopChild(child: Child, graceMs = 20_000): Promise<number | string> {
  if (!child.running()) return child.exited;
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.running()) process.kill(child.pid, 'SIGKILL');
  }, graceMs);
  const code = await child.exited;
  clearTimeout(timer);
  return code;
}

/** Stops every child this process started, by pid, all in parallel. */
export async function stopAllChildren(graceMs?: number): Promise<void> {
  await Promise.all([...children].map(({ child }) => stopChild(child, graceMs).catch(() => undefined)));
}

/** Last resort on a synchronous exit: SIGKILL whatever is still running. */
export function killAllChildrenNow(): void {
  for (const { child } of children) {
    try {
      if (child.running()) process.kill(child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** A port that was free a moment ago (the OS picks it; the bench then hands it to a child). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export function tail(path: string, lines = 30): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Polls `check` until it resolves true; fails early when the child dies, and after `timeoutMs`. */
export async function waitUntil(
  child: Child,
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!child.running())
      throw new Error(
        `${child.name} exited (${await child.exited}) before ${what}. Last lines of ${child.logPath}:\n${tail(child.logPath)}`,
      );
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(
        `${child.name}: no ${what} after ${timeoutMs} ms. Last lines of ${child.logPath}:\n${tail(child.logPath)}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** GET url answers 200. */
export async function answers200(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.status === 200;
}

// --- /proc sampling ------------------------------------------------------------------------------------

const CLK_TCK = (() => {
  const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(out.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** utime + stime of a process, in seconds; undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** kB fields of /proc/<pid>/status (VmRSS, VmHWM, RssAnon, …) in MB, one read of the file; NaN for a field it lacks. */
function statusFieldsMb<F extends string>(pid: number, fields: readonly F[]): Record<F, number> | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const mb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  return Object.fromEntries(fields.map((f) => [f, mb(f)])) as Record<F, number>;
}

/** VmRSS (or another kB field of /proc/<pid>/status, e.g. VmHWM) in MB. */
export function statusMb(pid: number, field = 'VmRSS'): number | undefined {
  const value = statusFieldsMb(pid, [field])?.[field];
  return value === undefined || Number.isNaN(value) ? undefined : value;
}

/** VmRSS with its anonymous and file-backed parts (RssAnon, RssFile: the node binary's mapped pages are most of the latter), MB. */
export function rssMb(pid: number): { rss: number; anon: number; file: number } | undefined {
  const m = statusFieldsMb(pid, ['VmRSS', 'RssAnon', 'RssFile'] as const);
  return !m || Number.isNaN(m.VmRSS) ? undefined : { rss: m.VmRSS, anon: m.RssAnon, file: m.RssFile };
}

/** The first process whose /proc/<pid>/comm is one of `names` (e.g. the MariaDB and Redis servers, for CPU figures). */
export function findPid(names: string[]): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) return Number(entry);
    } catch {
      // Gone while we looked.
    }
  }
  return undefined;
}

/** The whole machine's CPU time from /proc/stat, in seconds summed over all CPUs: busy (not idle, iowait, steal) and steal. */
export function machineCpu(): { busy: number; steal: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return { busy: (user + nice + system + irq + softirq) / CLK_TCK, steal: (steal ?? 0) / CLK_TCK };
}

export interface Usage {
  /** Peak VmRSS seen while sampling, MB (only for the pid sampled for memory). */
  peakRssMb: number;
  /** RssAnon and RssFile at that peak, MB. */
  peakAnonMb: number;
  peakFileMb: number;
  /**
   * CPU used per named process over the window, as % of one core; plus `other` (every other process and the kernel's
   * own work, e.g. network softirqs: high means something else was competing) and `steal` (taken by the hypervisor).
   */
  cpuPct: Record<string, number>;
  /** CPU seconds used per named process over the window. */
  cpuSec: Record<string, number>;
}

/**
 * Samples the target's VmRSS every `intervalMs` and the CPU time of every named process (the bench's own process
 * included as `gen`, the load generator) between start() and stop().
 */
export function sampleUsage(rssPid: number, cpuPids: Record<string, number | undefined>, intervalMs = 100) {
  const startCpu: Record<string, number> = {};
  for (const [name, pid] of Object.entries(cpuPids)) if (pid) startCpu[name] = cpuSeconds(pid) ?? 0;
  const selfStart = process.cpuUsage();
  const machineStart = machineCpu();
  const t0 = process.hrtime.bigint();
  let peak = { rss: 0, anon: NaN, file: NaN };
  const sample = () => {
    const now = rssMb(rssPid);
    if (now && now.rss > peak.rss) peak = now;
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop(): Usage {
      clearInterval(timer);
      sample();
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpuSec: Record<string, number> = {};
      for (const [name, pid] of Object.entries(cpuPids))
        if (pid && name in startCpu) cpuSec[name] = (cpuSeconds(pid) ?? startCpu[name]) - startCpu[name];
      const self = process.cpuUsage(selfStart);
      cpuSec.gen = (self.user + self.system) / 1e6;
      const machine = machineCpu();
      const tracked = Object.values(cpuSec).reduce((a, b) => a + b, 0);
      cpuSec.other = Math.max(0, machine.busy - machineStart.busy - tracked);
      cpuSec.steal = machine.steal - machineStart.steal;
      const cpuPct: Record<string, number> = {};
      for (const [name, s] of Object.entries(cpuSec)) cpuPct[name] = wall > 0 ? (100 * s) / wall : 0;
      return { peakRssMb: peak.rss, peakAnonMb: peak.anon, peakFileMb: peak.file, cpuPct, cpuSec };
    },
  };
}

/**
 * Where a process's memory is: preload it into a bench target with
 *   BENCH_NODE_ARGS="--import=$PWD/bench/memory-probe.ts" npm run bench
 * and every second it appends one JSON line to `memory-<name>-<pid>.jsonl` in $MEMORY_PROBE_DIR (default: the
 * current directory): VmRSS split into RssAnon and RssFile, V8's heap (committed, used, per space), `external` and
 * ArrayBuffers, and — at each new RSS peak — the resident MB of /proc/self/smaps grouped by mapping (the node binary,
 * the malloc heap `[heap]`, anonymous mappings by size). RSS minus the file-backed part minus V8's committed heap is
 * memory malloc'ed outside the JS heap. Linux only; it measures, it changes nothing in the process.
 */
import { appendFileSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { getHeapSpaceStatistics } from 'node:v8';

const MB = 1024 * 1024;
const name = basename(process.argv[1] ?? 'node').replace(/\.[jt]s$/, '');
const out = join(process.env.MEMORY_PROBE_DIR ?? '.', `memory-${name}-${process.pid}.jsonl`);

function statusKb(status: string, field: string): number {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
}

/** Resident MB per kind of mapping: a file's base name, [heap], [stack], or anonymous mappings by size and permissions. */
function smapsSummary(): Record<string, number> {
  const groups: Record<string, number> = {};
  let key = '';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      const kb = (parseInt(header[2], 16) - parseInt(header[1], 16)) / 1024;
      const path = header[4];
      const size = kb >= 65536 ? '>=64M' : kb >= 1024 ? '1M-64M' : kb >= 256 ? '256K-1M' : '<256K';
      key = path ? (path.startsWith('/') ? basename(path) : path) : `anon ${size} ${header[3]}`;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && key) groups[key] = (groups[key] ?? 0) + Number(rss[1]) / 1024;
  }
  return Object.fromEntries(
    Object.entries(groups)
      .filter(([, mb]) => mb >= 1)
      .sort((a, b) => b[1] - a[1])
      .map(([k, mb]) => [k, Math.round(mb)]),
  );
}

let peakRss = 0;
setInterval(() => {
  const status = readFileSync('/proc/self/status', 'utf8');
  const m = process.memoryUsage();
  const line: Record<string, unknown> = {
    t: Date.now(),
    rss: Math.round(m.rss / MB),
    anon: Math.round(statusKb(status, 'RssAnon') / 1024),
    file: Math.round(statusKb(status, 'RssFile') / 1024),
    heapTotal: Math.round(m.heapTotal / MB),
    heapUsed: Math.round(m.heapUsed / MB),
    external: Math.round(m.external / MB),
    arrayBuffers: Math.round(m.arrayBuffers / MB),
    spaces: Object.fromEntries(
      getHeapSpaceStatistics().map((s) => [s.space_name.replace(/_space$/, ''), Math.round(s.space_size / MB)]),
    ),
  };
  if (m.rss > peakRss + 2 * MB) {
    peakRss = m.rss;
    line.smaps = smapsSummary();
  }
  appendFileSync(out, `${JSON.stringify(line)}\n`);
}, 1000).unref();

import autocannon from 'autocannon';

/** One request of a run: autocannon sends POST `path` with these headers and body. */
export interface OutgoingRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface LoadOptions {
  /** Base URL of the target. */
  url: string;
  connections: number;
  /** Run for this many seconds (requests may reuse inputs)… */
  durationS?: number;
  /** …or send exactly this many requests (each input is used once). */
  amount?: number;
  /** The i-th request (0-based, in send order across all connections). */
  next: (i: number) => OutgoingRequest;
  /** True when a 2xx answer's body shows the work was done (no GraphQL `errors`, a SUCCESS notify answer, …). */
  ok: (body: string) => boolean;
}

export interface LoadResult {
  /** Responses received (any status). */
  requests: number;
  /** Requests sent (including those cut off when a timed run ended). */
  sent: number;
  elapsedS: number;
  rps: number;
  /** Latency percentiles over every response (not only 2xx), ms with sub-ms precision. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  non2xx: number;
  /** 2xx answers whose body did not pass `ok`. */
  bodyErrors: number;
  /** Connection errors and timeouts. */
  socketErrors: number;
  timeouts: number;
  /** non2xx + bodyErrors + socketErrors. */
  errors: number;
  /** 2xx answers that passed `ok`. */
  succeeded: number;
  /** Up to 5 failing answers, for the report. */
  samples: string[];
}

let current: autocannon.Instance | undefined;

/** Stops the run in progress (Ctrl-C). */
export function stopCurrentLoad() {
  current?.stop();
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/**
 * One autocannon run, pipelining 1, with every response body checked and every latency kept (autocannon's own
 * histogram rounds to whole milliseconds and drops non-2xx; ours keeps both).
 */
export function runLoad(opts: LoadOptions): Promise<LoadResult> {
  let sent = 0;
  let non2xx = 0;
  let bodyErrors = 0;
  let succeeded = 0;
  const samples: string[] = [];
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  let lastResponse = 0n;
  const sample = (text: string) => {
    if (samples.length < 5) samples.push(text.slice(0, 400));
  };

  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const instance = autocannon(
      {
        url: opts.url,
        connections: opts.connections,
        pipelining: 1,
        timeout: 10,
        ...(opts.amount !== undefined ? { amount: opts.amount } : { duration: opts.durationS ?? 10 }),
        requests: [
          {
            method: 'POST',
            setupRequest: (req) => {
              const r = opts.next(sent++);
              // A copy: autocannon writes Content-Length into the headers object it is given.
              return { ...req, method: 'POST', path: r.path, headers: { ...r.headers }, body: r.body };
            },
            onResponse: (status, body) => {
              if (status < 200 || status >= 300) {
                non2xx++;
                sample(`HTTP ${status}: ${body}`);
              } else if (!opts.ok(body)) {
                bodyErrors++;
                sample(`HTTP ${status}: ${body}`);
              } else succeeded++;
            },
          },
        ],
      },
      (err, result) => {
        current = undefined;
        if (err) return reject(err instanceof Error ? err : new Error(String(err)));
        // autocannon reports only at its next 1 s tick; the run really ended with its last response.
        const elapsedS = Number((lastResponse || process.hrtime.bigint()) - started) / 1e9;
        const sorted = latencies.subarray(0, count).sort();
        const socketErrors = result.errors;
        resolve({
          requests: count,
          sent,
          elapsedS,
          rps: count / elapsedS,
          p50: percentile(sorted, 50),
          p90: percentile(sorted, 90),
          p99: percentile(sorted, 99),
          max: count ? sorted[count - 1] : NaN,
          non2xx,
          bodyErrors,
          socketErrors,
          timeouts: result.timeouts,
          errors: non2xx + bodyErrors + socketErrors,
          succeeded,
          samples,
        });
      },
    );
    current = instance;
    // autocannon emits (client, statusCode, resBytes, responseTime) here; its typings omit the client.
    (instance as unknown as NodeJS.EventEmitter).on(
      'response',
      (_client: unknown, _status: number, _bytes: number, ms: number) => {
        if (count === latencies.length) {
          const bigger = new Float64Array(latencies.length * 2);
          bigger.set(latencies);
          latencies = bigger;
        }
        latencies[count++] = ms;
        lastResponse = process.hrtime.bigint();
      },
    );
  });
}

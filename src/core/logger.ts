import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';

/** `json`: one pino JSON object per line (production, log shippers). `pretty`: one coloured text line per event. */
export type LogFormat = 'json' | 'pretty';

/**
 * Keys whose values never reach a log line, wherever they sit in a logged object (up to SECRET_SCAN_DEPTH levels
 * down, which covers e.g. req.headers.authorization). The code never logs these on purpose; this is the net under
 * that rule.
 */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  'authorization',
  'token',
  'sessionKey',
  'session_key',
  'encryptedData',
  'iv',
  'paySign',
  'sign',
  'secret',
  'payKey',
  'variables',
  // Personal data, not a secret: getuserphonenumber's answer and User.phoneNumber.
  'phoneNumber',
  'purePhoneNumber',
]);
const SECRET_SCAN_DEPTH = 4;
const CENSOR = '[redacted]';

/**
 * `value` itself when no secret key is found in it, otherwise a copy with those values censored. pino's own
 * path-based redaction cost ~10 µs per line with wildcard paths (several % of a request's CPU); this walk of the
 * few keys a log object has costs well under 1 µs and allocates nothing in the common case.
 */
export function censorSecrets<T>(value: T, depth = 0): T {
  if (value === null || typeof value !== 'object' || depth >= SECRET_SCAN_DEPTH) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    (value as unknown[]).forEach((item, i) => {
      const censored = censorSecrets(item, depth + 1);
      if (censored !== item) (out ??= [...value])[i] = censored;
    });
    return (out ?? value) as T;
  }
  let out: Record<string, unknown> | undefined;
  const source = value as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    const item = source[key];
    const censored = SECRET_KEYS.has(key) ? CENSOR : censorSecrets(item, depth + 1);
    if (censored !== item) (out ??= copyOf(source))[key] = censored;
  }
  return (out ?? value) as T;
}

/**
 * A shallow copy that keeps what serializers read: the prototype's getters (a Fastify request's url, method, ip), and
 * an Error's message, stack and cause, which are not enumerable.
 */
function copyOf(source: Record<string, unknown>): Record<string, unknown> {
  const proto = Object.getPrototypeOf(source) as object | null;
  if (proto === Object.prototype || proto === null) return { ...source };
  const copy = Object.assign(Object.create(proto) as Record<string, unknown>, source);
  if (source instanceof Error) {
    copy.message = source.message;
    copy.stack = source.stack;
    if (source.cause !== undefined) copy.cause = source.cause;
  }
  return copy;
}

interface RequestLike {
  id?: string;
  method?: string;
  url?: string;
  ip?: string;
}

export function createLogger(level: string, destination?: DestinationStream, format: LogFormat = 'json'): Logger {
  if (format === 'pretty') {
    // Formatted in this thread and written synchronously: it is for a developer's terminal, where a line should show
    // when it happens and none be lost at exit. The fields stay on the event's line; the startup summary's are
    // already spelled out in its message.
    destination = pretty({
      destination: destination ?? 1,
      sync: true,
      colorize: !destination && Boolean(process.stdout.isTTY),
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,startup',
      singleLine: true,
    });
  }
  // Asynchronous stdout: a synchronous write() per line was the biggest single cost under load. Lines written while
  // one write is in flight are coalesced into the next. main.ts flushes before exiting.
  destination ??= pino.destination({ dest: 1, sync: false });
  const logger = pino(
    {
      level,
      formatters: { log: censorSecrets },
      serializers: {
        // Query strings can carry codes and secrets (jscode2session takes the AppSecret in its query), so only the path is logged.
        req: (req: RequestLike) => ({ id: req.id, method: req.method, path: req.url?.split('?')[0], ip: req.ip }),
      },
    },
    destination,
  );
  // pino runs no formatter over a child logger's bindings (child() resets `formatters.bindings`), so they are censored
  // on the way in. Children are created from their parent with Object.create, so grandchildren (Fastify's per-request
  // loggers included) inherit this method.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with Reflect.apply and the caller's `this`
  const child = logger.child;
  const censoredChild: (this: Logger, bindings: pino.Bindings, ...rest: unknown[]) => unknown = function (
    bindings,
    ...rest
  ) {
    return Reflect.apply(child, this, [censorSecrets(bindings), ...rest]);
  };
  logger.child = censoredChild as Logger['child'];
  return logger;
}

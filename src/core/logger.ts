import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Paths pino blanks out wherever they appear in a log object. The code never logs these on purpose;
 * this is the net under that rule.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'headers.authorization',
  'authorization',
  'token',
  '*.token',
  'sessionKey',
  '*.sessionKey',
  'session_key',
  '*.session_key',
  'encryptedData',
  '*.encryptedData',
  'iv',
  '*.iv',
  'paySign',
  '*.paySign',
  'sign',
  '*.sign',
  'secret',
  '*.secret',
  'payKey',
  '*.payKey',
  'variables',
  '*.variables',
];

interface RequestLike {
  id?: string;
  method?: string;
  url?: string;
  ip?: string;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  // Asynchronous stdout: a synchronous write() per line was the biggest single cost under load. Lines written while
  // one write is in flight are coalesced into the next. main.ts flushes before exiting.
  destination ??= pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      serializers: {
        // Query strings can carry codes and secrets (jscode2session takes the AppSecret in its query), so only the path is logged.
        req: (req: RequestLike) => ({ id: req.id, method: req.method, path: req.url?.split('?')[0], ip: req.ip }),
      },
    },
    destination,
  );
}

import { readFileSync } from 'node:fs';
import { z } from 'zod';

/**
 * The one place that reads the environment. Every key has its env name, a default and a doc line;
 * README's config table mirrors this list. A bad value stops the start with a message naming the variable.
 */

/** The simulated WeChat's own AppID, secret, merchant and API key: not secrets, they only open the simulator. */
export const SIMULATOR_IDENTITY = {
  appid: 'wx00simulator0000',
  secret: 'simulator-app-secret',
  mchId: '1900000109',
  payKey: 'simulatorpaykey00000000000000000',
  /** The merchant's APIv3 key in the simulator (32 characters) and its API certificate serial: not secrets either. */
  apiV3Key: 'simulatorapiv3key000000000000000',
  mchSerial: '5157F09EFDC096DE15EBE81A47057A7232F1B8E1',
  /** The message push token the simulator signs its pushes with, and a server with the simulator checks them with. */
  pushToken: 'simulatorpushtoken',
} as const;

const flag = (def: '0' | '1') =>
  z
    .enum(['0', '1', 'true', 'false'], { message: 'must be 0 or 1' })
    .default(def)
    .transform((v) => v === '1' || v === 'true');

/** Every refusal states the whole accepted range, whichever bound was crossed. */
const int = (def: number, min: number, max = Number.MAX_SAFE_INTEGER) => {
  const rule =
    max === Number.MAX_SAFE_INTEGER ? `must be an integer, ${min} or more` : `must be an integer from ${min} to ${max}`;
  return z.coerce
    .number({ message: rule })
    .int({ message: rule })
    .min(min, { message: rule })
    .max(max, { message: rule })
    .default(def);
};

const httpUrl = z
  .string()
  .url({ message: 'must be an http(s) URL' })
  .refine((v) => /^https?:\/\//.test(v), { message: 'must be an http(s) URL' })
  .transform((v) => v.replace(/\/+$/, ''));

const databaseUrl = z
  .string()
  .refine((v) => /^(mysql|mariadb):\/\/[^/]+\/[^/?]+/.test(v) || /^file:.+/.test(v) || v === ':memory:', {
    message: 'must be mysql://user:pass@host:port/db, mariadb://…, file:path or :memory:',
  });

const redisUrl = z
  .string()
  .refine((v) => /^rediss?:\/\/.+/.test(v), { message: 'must be redis://host:port or rediss://…' });

/** `host:port,host:port,…`: the cluster nodes asked for the slot map (any few of them; all is best). */
const clusterNodes = z
  .string()
  .refine((v) => v.split(',').every((n) => /^[^\s:,]+:\d{1,5}$/.test(n.trim()) && Number(n.split(':')[1]) <= 65535), {
    message: 'must be host:port[,host:port…], e.g. 10.0.0.1:7000,10.0.0.2:7000',
  })
  .transform((v) =>
    v.split(',').map((n) => {
      const [host, port] = n.trim().split(':');
      return { host, port: Number(port) };
    }),
  );

const blankAsUndefined = (v: unknown) => (v === '' ? undefined : v);

const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(4000, 0, 65535),
  HOST: z.preprocess(blankAsUndefined, z.string().min(1).optional()),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.preprocess(
    blankAsUndefined,
    z.enum(['pretty', 'json'], { message: 'must be pretty or json' }).optional(),
  ),
  DATABASE_URL: z.preprocess(blankAsUndefined, databaseUrl.optional()),
  REDIS_URL: z.preprocess(blankAsUndefined, redisUrl.optional()),
  REDIS_CLUSTER_NODES: z.preprocess(blankAsUndefined, clusterNodes.optional()),
  REDIS_NAMESPACE: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1 to 64 letters, digits, dots, dashes or underscores')
    .default('wxmp'),
  CACHE_TIMEOUT_MS: int(2000, 50, 60000),
  DATABASE_TIMEOUT_MS: int(3000, 100, 60000),
  WECHAT_APPID: z.preprocess(
    blankAsUndefined,
    z
      .string()
      .regex(
        /^wx[0-9a-zA-Z]{8,32}$/,
        'must be wx followed by 8 to 32 letters or digits (a real AppID is wx and 16 more)',
      )
      .optional(),
  ),
  WECHAT_SECRET: z.preprocess(
    blankAsUndefined,
    z.string().min(8, 'must be the AppSecret: at least 8 characters (a real one is 32 letters and digits)').optional(),
  ),
  WECHAT_API_BASE: httpUrl.default('https://api.weixin.qq.com'),
  WECHAT_SIMULATOR: flag('0'),
  SIMULATOR_XML_LAYOUT: z
    .enum(['wechat', 'vary', 'compact', 'newline', 'crlf', 'indented'], {
      message: 'must be wechat, vary, compact, newline, crlf or indented',
    })
    .default('wechat'),
  WECHAT_TIMEOUT_MS: int(5000, 10, 60000),
  WECHAT_DATA_MAX_AGE_SECONDS: int(0, 0),
  WECHAT_PUSH_TOKEN: z.preprocess(
    blankAsUndefined,
    z
      .string()
      .regex(/^[0-9A-Za-z]{3,32}$/, "must be the message push Token: 3 to 32 letters or digits (WeChat's rule)")
      .optional(),
  ),
  SIMULATOR_PUSH_URL: z.preprocess(blankAsUndefined, httpUrl.optional()),
  SESSION_TTL_SECONDS: int(604800, 1),
  MIGRATE_ON_START: flag('1'),
  WECHAT_MCH_ID: z.preprocess(
    blankAsUndefined,
    z
      .string()
      .regex(/^\d{6,32}$/, 'must be the merchant number: 6 to 32 digits')
      .optional(),
  ),
  WECHAT_PAY_KEY: z.preprocess(
    blankAsUndefined,
    z
      .string()
      .regex(/^[0-9A-Za-z]{32}$/, 'must be the API key: exactly 32 letters or digits')
      .optional(),
  ),
  WECHAT_PAY_BASE: httpUrl.default('https://api.mch.weixin.qq.com'),
  WECHAT_PAY_SIGN_TYPE: z.enum(['MD5', 'HMAC-SHA256'], { message: 'must be MD5 or HMAC-SHA256' }).default('MD5'),
  WECHAT_PAY_API: z.enum(['v2', 'v3'], { message: 'must be v2 or v3' }).default('v2'),
  WECHAT_PAY_MCH_SERIAL: z.preprocess(
    blankAsUndefined,
    z
      .string()
      .regex(/^[0-9A-Fa-f]{8,40}$/, "must be the API certificate's serial: 8 to 40 hex digits")
      .optional(),
  ),
  WECHAT_PAY_MCH_PRIVATE_KEY_PEM: z.preprocess(blankAsUndefined, z.string().optional()),
  WECHAT_PAY_API_V3_KEY: z.preprocess(
    blankAsUndefined,
    z
      .string()
      .regex(/^[0-9A-Za-z]{32}$/, 'must be the APIv3 key: exactly 32 letters or digits')
      .optional(),
  ),
  WECHAT_PAY_PUBLIC_KEY_PEM: z.preprocess(blankAsUndefined, z.string().optional()),
  WECHAT_PAY_PUBLIC_KEY_ID: z.preprocess(
    blankAsUndefined,
    z
      .string()
      .regex(/^PUB_KEY_ID_[0-9A-Za-z]{1,64}$/, 'must be the WeChat Pay public key id: PUB_KEY_ID_ and its digits')
      .optional(),
  ),
  WECHAT_PAY_PLATFORM_CERTIFICATES: z.preprocess(
    blankAsUndefined,
    z.enum(['on', 'off'], { message: 'must be on or off' }).optional(),
  ),
  WECHAT_PAY_CERTIFICATES_RETRY_SECONDS: int(60, 1, 3600),
  WECHAT_NOTIFY_URL: z.preprocess(blankAsUndefined, httpUrl.optional()),
  PAY_MAX_AMOUNT: int(100000, 1, 2_000_000_000),
  WECHAT_PAY_CERT_PEM: z.preprocess(blankAsUndefined, z.string().optional()),
  WECHAT_PAY_KEY_PEM: z.preprocess(blankAsUndefined, z.string().optional()),
  WECHAT_PAY_CA_PEM: z.preprocess(blankAsUndefined, z.string().optional()),
  WECHAT_REFUND_NOTIFY_URL: z.preprocess(blankAsUndefined, httpUrl.optional()),
  SIMULATOR_TLS_DIR: z.preprocess(blankAsUndefined, z.string().optional()),
  ADMIN_TOKEN_HASHES: z.preprocess(
    blankAsUndefined,
    z
      .string()
      .regex(
        /^[0-9a-fA-F]{64}(,[0-9a-fA-F]{64})*$/,
        'must be SHA-256 hex digests (64 hex digits each), comma-separated, no spaces',
      )
      .optional(),
  ),
  SWEEP_INTERVAL_SECONDS: int(30, 0, 86400),
  RECONCILE_AFTER_SECONDS: int(60, 1, 86400),
  PAY_ORDER_TTL_SECONDS: int(7200, 1, 7 * 86400),
  PAY_DESCRIPTION: z
    .string()
    .min(1, 'must be 1 to 128 characters')
    .max(128, 'must be 1 to 128 characters')
    .default('Mini-program order'),
  TRUST_PROXY: int(0, 0, 10),
  PLAYGROUND: z.preprocess(blankAsUndefined, z.enum(['0', '1'], { message: 'must be 0 or 1' }).optional()),
  BODY_LIMIT_BYTES: int(102400, 1024, 10 * 1024 * 1024),
  REQUEST_TIMEOUT_MS: int(30000, 100, 600000),
  KEEP_ALIVE_TIMEOUT_MS: int(72000, 100, 600000),
  GRAPHQL_MAX_DEPTH: int(10, 2, 100),
  GRAPHQL_MAX_ALIASES: int(20, 0, 1000),
  GRAPHQL_MAX_COST: int(2000, 10, 1_000_000),
  GRAPHQL_MAX_BATCH: int(10, 1, 100),
  GRAPHQL_MAX_TOKENS: int(2000, 100, 1_000_000),
  LOGIN_RATE_PER_IP: int(60, 1, 1_000_000),
  LOGIN_RATE_PER_OPENID: int(10, 1, 1_000_000),
  LOGIN_RATE_WINDOW_SECONDS: int(60, 1, 86400),
  PAY_RATE_PER_USER: int(20, 1, 1_000_000),
  PAY_RATE_WINDOW_SECONDS: int(60, 1, 86400),
  METRICS_TOKEN: z.preprocess(
    blankAsUndefined,
    z
      .string()
      .regex(/^\S{16,}$/, 'at least 16 characters, none of them whitespace (it is sent as Bearer <token>)')
      .optional(),
  ),
  SHUTDOWN_TIMEOUT_MS: int(10000, 0, 600000),
  PUBLIC_BASE_URL: z.preprocess(blankAsUndefined, httpUrl.optional()),
  AVATAR_DIR: z.string().min(1, 'must be a directory path').default('./data/avatars'),
  AVATAR_MAX_BYTES: int(2 * 1024 * 1024, 1024, 20 * 1024 * 1024),
});

export type EnvInput = Record<string, string | undefined>;
/** The settings as parsed: core/ names the simulator's layouts and the sign types here, features take them from it. */
type Env = z.output<typeof envSchema>;

export type DatabaseTarget = { kind: 'mysql'; url: string } | { kind: 'libsql'; url: string };

export interface Config {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  /** `pretty` by default outside production when stdout is a terminal; `json` otherwise (a container, a pipe, a file). */
  logFormat: 'pretty' | 'json';
  database: DatabaseTarget;
  redisUrl?: string;
  /** A Redis Cluster for sessions, rate limits, locks and values, instead of REDIS_URL (never both). */
  redisClusterNodes?: { host: string; port: number }[];
  /** Prefix of every key in Redis (`<ns>::sess:…`, `<ns>:counter:…`), so deployments can share one Redis database. */
  redisNamespace: string;
  cacheTimeoutMs: number;
  /**
   * Bound on each database statement, waiting for a pool connection included (MariaDB only: libsql runs
   * in-process). Past it the statement fails as SERVICE_UNAVAILABLE and its connection is destroyed, not reused.
   */
  databaseTimeoutMs: number;
  sessionTtlSeconds: number;
  migrateOnStart: boolean;
  wechat: {
    appid: string;
    secret: string;
    /** Undefined when the simulator is mounted: the base is then this server's own /simulator. */
    apiBase?: string;
    timeoutMs: number;
    dataMaxAgeSeconds: number;
    /**
     * The message push token (WECHAT_PUSH_TOKEN): /wechat/push checks every push with it. Undefined: no push URL, and
     * setProfile refuses avatars (their check's result is pushed). The simulator's own when it is mounted.
     */
    pushToken?: string;
  };
  /** True when the built-in WeChat simulator is mounted in-process. */
  simulator: boolean;
  /** How the simulator lays out its pay XML: WeChat's own by default; `vary` changes it per message (the test suites). */
  simulatorXmlLayout: Env['SIMULATOR_XML_LAYOUT'];
  /**
   * Where the simulator pushes media check results (the mini-program's message push URL): `npm run simulator`'s
   * setting; the in-process simulator pushes to this server's own /wechat/push unless it is set.
   */
  simulatorPushUrl?: string;
  /** Undefined when payments are not configured (no WECHAT_MCH_ID/WECHAT_PAY_KEY and no simulator). */
  pay?: {
    mchId: string;
    key: string;
    /** Undefined when the simulator is mounted: the base is then this server's own /simulator. */
    apiBase?: string;
    signType: Env['WECHAT_PAY_SIGN_TYPE'];
    /** WECHAT_PAY_API: which WeChat Pay API the calls and notifies use. */
    api: 'v2' | 'v3';
    /**
     * v3's merchant key, APIv3 key and WeChat Pay public key (public-key mode). Under the simulator the merchant key
     * pair is made at start and the public key is the simulator's own; undefined for v2.
     */
    v3?: {
      mchSerial: string;
      privateKeyPath?: string;
      apiV3Key: string;
      publicKeyPath?: string;
      publicKeyId?: string;
      /**
       * Certificate mode: verify with the platform certificates of GET /v3/certificates (src/wechat/v3/certificates.ts).
       * On without a public key, off with one; on with one too while WeChat switches a merchant between the two.
       */
      platformCertificates: boolean;
      /** While none is held, a download is retried this often; an unknown serial triggers one at most this often. */
      certificatesRetrySeconds: number;
    };
    /** Undefined when the simulator is mounted: WeChat then notifies this server's own /notify. */
    notifyUrl?: string;
    maxAmount: number;
    description: string;
    /**
     * The merchant's API client certificate and key (PEM file paths) for the mutual-TLS /secapi calls (refunds);
     * undefined: refunds answer REFUNDS_DISABLED. `caPath`: an extra CA to trust for the pay API (the simulator's test CA).
     */
    tls?: { certPath: string; keyPath: string; caPath?: string };
    /** Where WeChat sends refund results; undefined: notifyUrl's origin + /notify/refund (this server's own under the simulator). */
    refundNotifyUrl?: string;
    /** PAY_ORDER_TTL_SECONDS: a PENDING order older than this is closed (at WeChat too); sent as time_expire when ≥ 5 min. */
    orderTtlSeconds: number;
  };
  /**
   * The sweeper (every instance): every `intervalSeconds` (0: off) it settles PENDING orders older than
   * `reconcileAfterSeconds` with orderquery, closes orders past pay.orderTtlSeconds and reconciles PROCESSING refunds.
   */
  sweep: { intervalSeconds: number; reconcileAfterSeconds: number };
  /** SHA-256 hex digests (lowercase) of the operators' bearer tokens: such a token is an admin. */
  adminTokenHashes: ReadonlySet<string>;
  /** SIMULATOR_TLS_DIR: ca.pem, server.pem, server-key.pem for the in-process simulator's HTTPS pay API (/secapi). */
  simulatorTlsDir?: string;
  /**
   * How many proxies in front of us append to X-Forwarded-For (0 = none: the socket address is the client).
   * Only that many hops from the right are believed; entries further left are whatever the client wrote.
   */
  trustProxy: number;
  /** GraphiQL at GET /graphql and introspection: on unless NODE_ENV=production, where PLAYGROUND=1 turns them on. */
  playground: boolean;
  /**
   * Bearer token /metrics asks for in production; there, without one, /metrics is off (404).
   * Outside production /metrics is open.
   */
  metricsToken?: string;
  limits: {
    bodyBytes: number;
    /** A request not fully received (headers and body) within this is cut off with 408. */
    requestTimeoutMs: number;
    /** An idle keep-alive connection is closed after this; keep it above a load balancer's idle timeout. */
    keepAliveTimeoutMs: number;
    /** graphql-js parser token cap: a bigger document is refused before validation (quadratic in repeated fields) runs. */
    tokens: number;
    depth: number;
    aliases: number;
    cost: number;
    batch: number;
    loginPerIp: number;
    loginPerOpenid: number;
    loginWindowSeconds: number;
    payPerUser: number;
    payWindowSeconds: number;
  };
  /** How long in-flight requests may run on after SIGTERM before their connections are cut. */
  shutdownTimeoutMs: number;
  /** The base of the URLs this server hands out (avatars); undefined: its own base URL once listening. No trailing slash. */
  publicBaseUrl?: string;
  /** POST /avatar: where the images are written (local disk storage) and the largest accepted. */
  avatar: { dir: string; maxBytes: number };
}

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration:\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** A file a setting names (a PEM key or certificate), as text; unreadable, it is that setting's ConfigError. */
export function readConfigFile(setting: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`${setting}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
}

export const DEFAULT_DATABASE_FILE = 'file:./data/wxmp.db';

export function loadConfig(env: EnvInput = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const problems: string[] = [];

  // With no AppID there is no real WeChat to talk to, so the simulator stands in for it.
  const simulator = e.WECHAT_SIMULATOR || !e.WECHAT_APPID;
  if (simulator && e.NODE_ENV === 'production') {
    problems.push(
      e.WECHAT_SIMULATOR
        ? 'WECHAT_SIMULATOR: the WeChat simulator is refused when NODE_ENV=production'
        : 'WECHAT_APPID: required when NODE_ENV=production (without it the WeChat simulator would be mounted, which production refuses)',
    );
  }
  if (!simulator && !e.WECHAT_SECRET) problems.push('WECHAT_SECRET: required when WECHAT_APPID is set');
  // Payments are optional for a real AppID (a login-only deployment), but half a merchant config is a mistake.
  const payKeys = {
    WECHAT_MCH_ID: e.WECHAT_MCH_ID,
    WECHAT_PAY_KEY: e.WECHAT_PAY_KEY,
    WECHAT_NOTIFY_URL: e.WECHAT_NOTIFY_URL,
  };
  const v3 = e.WECHAT_PAY_API === 'v3';
  // v3 has no v2 API key: its merchant is the API key pair, the APIv3 key and WeChat Pay's public key or certificates.
  if (v3) {
    delete (payKeys as Partial<typeof payKeys>).WECHAT_PAY_KEY;
    if (!simulator) {
      const v3Keys = {
        WECHAT_PAY_MCH_SERIAL: e.WECHAT_PAY_MCH_SERIAL,
        WECHAT_PAY_MCH_PRIVATE_KEY_PEM: e.WECHAT_PAY_MCH_PRIVATE_KEY_PEM,
        WECHAT_PAY_API_V3_KEY: e.WECHAT_PAY_API_V3_KEY,
      };
      for (const [name, value] of Object.entries(v3Keys))
        if (!value) problems.push(`${name}: required for WECHAT_PAY_API=v3 (with WECHAT_MCH_ID and WECHAT_NOTIFY_URL)`);
      // Without the public key, the platform certificates of GET /v3/certificates verify (certificate mode).
      if (!e.WECHAT_PAY_PUBLIC_KEY_PEM !== !e.WECHAT_PAY_PUBLIC_KEY_ID)
        problems.push(
          'WECHAT_PAY_PUBLIC_KEY_PEM: set it and WECHAT_PAY_PUBLIC_KEY_ID together (or neither, for platform certificate mode)',
        );
      if (!e.WECHAT_PAY_PUBLIC_KEY_PEM && e.WECHAT_PAY_PLATFORM_CERTIFICATES === 'off')
        problems.push(
          'WECHAT_PAY_PLATFORM_CERTIFICATES: off needs WECHAT_PAY_PUBLIC_KEY_PEM and WECHAT_PAY_PUBLIC_KEY_ID (nothing would verify WeChat)',
        );
    }
  }
  const payEnabled = simulator || v3 || Object.values(payKeys).some(Boolean);
  if (!simulator && payEnabled) {
    for (const [name, value] of Object.entries(payKeys))
      if (!value)
        problems.push(
          `${name}: required for WeChat Pay (set WECHAT_MCH_ID, WECHAT_PAY_KEY and WECHAT_NOTIFY_URL together)`,
        );
  }
  if (Boolean(e.WECHAT_PAY_CERT_PEM) !== Boolean(e.WECHAT_PAY_KEY_PEM))
    problems.push('WECHAT_PAY_CERT_PEM: set it and WECHAT_PAY_KEY_PEM together (the API certificate and its key)');
  if (e.REDIS_URL && e.REDIS_CLUSTER_NODES)
    problems.push(
      'REDIS_CLUSTER_NODES: set either it (a Redis Cluster) or REDIS_URL (one Redis), not both: neither wins',
    );
  if (problems.length) throw new ConfigError(problems);

  const dbUrl = e.DATABASE_URL ?? DEFAULT_DATABASE_FILE;
  const database: DatabaseTarget = /^(mysql|mariadb):/.test(dbUrl)
    ? { kind: 'mysql', url: dbUrl.replace(/^mariadb:/, 'mysql:') }
    : { kind: 'libsql', url: dbUrl };

  return {
    env: e.NODE_ENV,
    port: e.PORT,
    // The simulator lets anyone log in as anyone, so by default it is reachable from this machine only.
    host: e.HOST ?? (simulator ? '127.0.0.1' : '0.0.0.0'),
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT ?? (e.NODE_ENV !== 'production' && process.stdout.isTTY ? 'pretty' : 'json'),
    database,
    redisUrl: e.REDIS_URL,
    redisClusterNodes: e.REDIS_CLUSTER_NODES,
    redisNamespace: e.REDIS_NAMESPACE,
    cacheTimeoutMs: e.CACHE_TIMEOUT_MS,
    databaseTimeoutMs: e.DATABASE_TIMEOUT_MS,
    sessionTtlSeconds: e.SESSION_TTL_SECONDS,
    migrateOnStart: e.MIGRATE_ON_START,
    wechat: {
      appid: e.WECHAT_APPID ?? SIMULATOR_IDENTITY.appid,
      secret: e.WECHAT_SECRET ?? SIMULATOR_IDENTITY.secret,
      apiBase: simulator ? undefined : e.WECHAT_API_BASE,
      timeoutMs: e.WECHAT_TIMEOUT_MS,
      dataMaxAgeSeconds: e.WECHAT_DATA_MAX_AGE_SECONDS,
      pushToken: e.WECHAT_PUSH_TOKEN ?? (simulator ? SIMULATOR_IDENTITY.pushToken : undefined),
    },
    simulator,
    simulatorXmlLayout: e.SIMULATOR_XML_LAYOUT,
    simulatorPushUrl: e.SIMULATOR_PUSH_URL,
    pay: payEnabled
      ? {
          mchId: e.WECHAT_MCH_ID ?? SIMULATOR_IDENTITY.mchId,
          // v3 has none: verifyPaySign refuses everything under an empty key, and /notify answers 503 under v3.
          key: e.WECHAT_PAY_KEY ?? (simulator ? SIMULATOR_IDENTITY.payKey : ''),
          apiBase: simulator ? undefined : e.WECHAT_PAY_BASE,
          signType: e.WECHAT_PAY_SIGN_TYPE,
          api: e.WECHAT_PAY_API,
          v3:
            e.WECHAT_PAY_API === 'v3'
              ? {
                  mchSerial: e.WECHAT_PAY_MCH_SERIAL ?? SIMULATOR_IDENTITY.mchSerial,
                  privateKeyPath: e.WECHAT_PAY_MCH_PRIVATE_KEY_PEM,
                  apiV3Key: e.WECHAT_PAY_API_V3_KEY ?? SIMULATOR_IDENTITY.apiV3Key,
                  publicKeyPath: e.WECHAT_PAY_PUBLIC_KEY_PEM,
                  publicKeyId: e.WECHAT_PAY_PUBLIC_KEY_ID,
                  // The in-process simulator hands over its public key (public-key mode).
                  platformCertificates:
                    !simulator &&
                    (e.WECHAT_PAY_PLATFORM_CERTIFICATES === 'on' ||
                      (e.WECHAT_PAY_PLATFORM_CERTIFICATES === undefined && !e.WECHAT_PAY_PUBLIC_KEY_PEM)),
                  certificatesRetrySeconds: e.WECHAT_PAY_CERTIFICATES_RETRY_SECONDS,
                }
              : undefined,
          notifyUrl: e.WECHAT_NOTIFY_URL,
          maxAmount: e.PAY_MAX_AMOUNT,
          description: e.PAY_DESCRIPTION,
          tls:
            e.WECHAT_PAY_CERT_PEM && e.WECHAT_PAY_KEY_PEM
              ? { certPath: e.WECHAT_PAY_CERT_PEM, keyPath: e.WECHAT_PAY_KEY_PEM, caPath: e.WECHAT_PAY_CA_PEM }
              : undefined,
          refundNotifyUrl: e.WECHAT_REFUND_NOTIFY_URL,
          orderTtlSeconds: e.PAY_ORDER_TTL_SECONDS,
        }
      : undefined,
    sweep: { intervalSeconds: e.SWEEP_INTERVAL_SECONDS, reconcileAfterSeconds: e.RECONCILE_AFTER_SECONDS },
    adminTokenHashes: new Set(
      (e.ADMIN_TOKEN_HASHES ?? '')
        .split(',')
        .filter(Boolean)
        .map((h) => h.toLowerCase()),
    ),
    simulatorTlsDir: e.SIMULATOR_TLS_DIR,
    trustProxy: e.TRUST_PROXY,
    playground: e.PLAYGROUND ? e.PLAYGROUND === '1' : e.NODE_ENV !== 'production',
    metricsToken: e.METRICS_TOKEN,
    limits: {
      bodyBytes: e.BODY_LIMIT_BYTES,
      requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.KEEP_ALIVE_TIMEOUT_MS,
      tokens: e.GRAPHQL_MAX_TOKENS,
      depth: e.GRAPHQL_MAX_DEPTH,
      aliases: e.GRAPHQL_MAX_ALIASES,
      cost: e.GRAPHQL_MAX_COST,
      batch: e.GRAPHQL_MAX_BATCH,
      loginPerIp: e.LOGIN_RATE_PER_IP,
      loginPerOpenid: e.LOGIN_RATE_PER_OPENID,
      loginWindowSeconds: e.LOGIN_RATE_WINDOW_SECONDS,
      payPerUser: e.PAY_RATE_PER_USER,
      payWindowSeconds: e.PAY_RATE_WINDOW_SECONDS,
    },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    publicBaseUrl: e.PUBLIC_BASE_URL,
    avatar: { dir: e.AVATAR_DIR, maxBytes: e.AVATAR_MAX_BYTES },
  };
}

import { X509Certificate, type KeyObject } from 'node:crypto';
import type { Logger } from 'pino';
import { authorizationHeader, decryptResource, V3DecryptError, verifyWechatpaySignature } from './crypto';

/**
 * Certificate mode: WeChat Pay's platform certificates, downloaded from GET /v3/certificates, for merchants without a
 * WeChat Pay public key. Each certificate comes sealed with the APIv3 key (AEAD_AES_256_GCM, AAD "certificate"), and
 * the answer is signed by one of them: WeChat's documented bootstrap is to decrypt first and then verify the answer
 * with the certificate its Wechatpay-Serial names. Only someone holding the APIv3 key can seal a certificate that
 * decrypts, so a man in the middle cannot slip in a key of its own.
 */

/** One certificate that decrypted, parsed and matched its serial_no. */
export interface PlatformCertificate {
  /** serial_no as WeChat spells it: the Wechatpay-Serial of what its key signs. */
  serial: string;
  publicKey: KeyObject;
  /** Both the X.509 validity and WeChat's effective_time/expire_time, whichever is narrower (ms since epoch). */
  notBefore: number;
  notAfter: number;
}

export interface ReadCertificates {
  certificates: PlatformCertificate[];
  /** Why an entry was dropped: no key, no plaintext, only the serial and the reason. */
  problems: string[];
}

const serialOf = (hex: string) => hex.toUpperCase().replace(/^0+(?=.)/, '');

/** Is `at` within the certificate's validity? */
export const validAt = (cert: PlatformCertificate, at: number) => cert.notBefore <= at && at < cert.notAfter;

/**
 * A /v3/certificates answer's body → its certificates, each decrypted with the APIv3 key and parsed. Pure: the
 * validity is reported, not judged (validAt does that), and nothing here is trusted until the answer's signature
 * verifies with one of them.
 */
export function readCertificates(body: string, apiV3Key: string): ReadCertificates {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { certificates: [], problems: ['answer is not JSON'] };
  }
  const data = (parsed as { data?: unknown } | null)?.data;
  if (!Array.isArray(data)) return { certificates: [], problems: ['answer has no data array'] };
  const certificates: PlatformCertificate[] = [];
  const problems: string[] = [];
  for (const entry of data as Record<string, unknown>[]) {
    const serial = typeof entry?.serial_no === 'string' ? entry.serial_no : '';
    const label = `certificate ${serial.slice(0, 64) || '(no serial_no)'}`;
    const sealed = entry?.encrypt_certificate as Parameters<typeof decryptResource>[0] | undefined;
    if (!serial || typeof sealed !== 'object' || sealed === null) {
      problems.push(`${label}: no serial_no or encrypt_certificate`);
      continue;
    }
    if (sealed.associated_data !== 'certificate') {
      problems.push(`${label}: associated_data is not "certificate"`);
      continue;
    }
    let pem: string;
    try {
      pem = decryptResource(sealed, apiV3Key);
    } catch (err) {
      const reason = err instanceof V3DecryptError ? err.reason : 'ERROR';
      problems.push(`${label}: does not decrypt with the APIv3 key (${reason})`);
      continue;
    }
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(pem);
    } catch {
      problems.push(`${label}: not an X.509 certificate`);
      continue;
    }
    if (serialOf(x509.serialNumber) !== serialOf(serial)) {
      problems.push(`${label}: the certificate's own serial is ${x509.serialNumber}`);
      continue;
    }
    const time = (v: unknown) => (typeof v === 'string' ? Date.parse(v) : NaN);
    const effective = time(entry.effective_time);
    const expire = time(entry.expire_time);
    certificates.push({
      serial,
      publicKey: x509.publicKey,
      notBefore: Math.max(Date.parse(x509.validFrom), Number.isNaN(effective) ? -Infinity : effective),
      notAfter: Math.min(Date.parse(x509.validTo), Number.isNaN(expire) ? Infinity : expire),
    });
  }
  return { certificates, problems };
}

export interface PlatformCertificatesOptions {
  apiBase: () => string;
  mchId: string;
  mchSerial: string;
  privateKey: KeyObject;
  apiV3Key: string;
  /** Bound on one download (WECHAT_TIMEOUT_MS). */
  timeoutMs: number;
  logger: Logger;
  /** Keys trusted already (the WeChat Pay public key during a switch): an answer signed by one verifies too. */
  otherKeys?: () => ReadonlyMap<string, KeyObject>;
  /** Scheduled refresh; WeChat rotates certificates with weeks of overlap, so twice a day is plenty. */
  refreshMs?: number;
  /** While no valid certificate is held, and between downloads an unknown serial may trigger. */
  retryMs?: number;
  now?: () => number;
}

export interface PlatformCertificates {
  /** The valid certificates' public keys by serial, now. Closures, not methods: safe to pass around unbound. */
  keys(this: void): ReadonlyMap<string, KeyObject>;
  /** One download now (or the one under way); true when it gave at least one valid certificate. Never throws. */
  refresh(reason: string): Promise<boolean>;
  /**
   * An answer or notify named a serial we do not hold: download again, at most once per retryMs (anyone can post a
   * notify with any serial), sharing a download under way. Resolves when there is nothing more to wait for.
   */
  onUnknownSerial(this: void, serial: string): Promise<void>;
  /** The first download, then the timer (unref'd). */
  start(): void;
  stop(): void;
}

const TWELVE_HOURS = 12 * 3600_000;

export function createPlatformCertificates(opts: PlatformCertificatesOptions): PlatformCertificates {
  const now = opts.now ?? Date.now;
  const refreshMs = opts.refreshMs ?? TWELVE_HOURS;
  const retryMs = opts.retryMs ?? 60_000;
  const log = opts.logger.child({ component: 'wechatpay-certificates' });
  let held: PlatformCertificate[] = [];
  let inFlight: Promise<boolean> | undefined;
  let lastTriggered = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const aborts = new Set<AbortController>();

  const valid = () => held.filter((c) => validAt(c, now()));

  async function download(): Promise<PlatformCertificate[]> {
    const path = '/v3/certificates';
    const authorization = authorizationHeader({
      mchid: opts.mchId,
      serialNo: opts.mchSerial,
      privateKey: opts.privateKey,
      method: 'GET',
      url: path,
      body: '',
    });
    const abort = new AbortController();
    aborts.add(abort);
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${opts.apiBase()}${path}`, {
        headers: { authorization, accept: 'application/json' },
        signal: AbortSignal.any([abort.signal, AbortSignal.timeout(opts.timeoutMs)]),
      });
      text = await res.text();
    } catch (err) {
      const { name, message } = (err ?? {}) as { name?: string; message?: string };
      throw new Error(name === 'TimeoutError' ? `timed out after ${opts.timeoutMs} ms` : `${message}`, { cause: err });
    } finally {
      aborts.delete(abort);
    }
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    const { certificates, problems } = readCertificates(text, opts.apiV3Key);
    for (const problem of problems) log.warn({ problem }, 'platform certificate dropped');
    const serial = res.headers.get('wechatpay-serial') ?? '';
    const key =
      certificates.find((c) => c.serial === serial && validAt(c, now()))?.publicKey ??
      held.find((c) => c.serial === serial && validAt(c, now()))?.publicKey ??
      opts.otherKeys?.().get(serial);
    if (!key) throw new Error('answer signed under a serial none of its valid certificates has');
    const signed = {
      timestamp: res.headers.get('wechatpay-timestamp') ?? '',
      nonce: res.headers.get('wechatpay-nonce') ?? '',
      signature: res.headers.get('wechatpay-signature') ?? '',
    };
    if (!verifyWechatpaySignature(signed, text, key)) throw new Error('answer signature does not verify');
    return certificates;
  }

  function schedule() {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(() => void refresh('scheduled'), valid().length ? refreshMs : retryMs);
    timer.unref();
  }

  function refresh(reason: string): Promise<boolean> {
    inFlight ??= (async () => {
      try {
        const downloaded = await download();
        const usable = downloaded.filter((c) => validAt(c, now()));
        if (usable.length === 0) {
          log.error(
            { reason, downloaded: downloaded.map((c) => c.serial), kept: valid().map((c) => c.serial) },
            'platform certificates: the download holds no valid certificate; keeping the ones held',
          );
          return false;
        }
        held = usable;
        log.info({ reason, serials: usable.map((c) => c.serial) }, 'platform certificates downloaded');
        return true;
      } catch (err) {
        log.error(
          { reason, cause: (err as Error).message, kept: valid().map((c) => c.serial) },
          valid().length
            ? 'platform certificates: download failed; keeping the ones held'
            : 'platform certificates: download failed and none is held; v3 payments answer WECHAT_UNAVAILABLE until one succeeds',
        );
        return false;
      } finally {
        inFlight = undefined;
        schedule();
      }
    })();
    return inFlight;
  }

  return {
    keys: () => new Map(valid().map((c) => [c.serial, c.publicKey])),
    refresh,
    async onUnknownSerial(serial: string) {
      if (stopped || !serial) return;
      if (inFlight) {
        await inFlight;
        return;
      }
      if (now() - lastTriggered < retryMs) {
        log.warn(
          { serial: serial.slice(0, 64) },
          'platform certificates: unknown serial, not downloading again so soon',
        );
        return;
      }
      lastTriggered = now();
      await refresh(`unknown serial ${serial.slice(0, 64)}`);
    },
    start() {
      stopped = false;
      void refresh('start');
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
      for (const abort of aborts) abort.abort();
    },
  };
}

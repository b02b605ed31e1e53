import { parsePayXml } from '../wechat/pay-xml';

/** WeChat's documented retry delays after a failed notify, in seconds. */
export const NOTIFY_RETRY_SECONDS = [
  15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600,
] as const;

/** WeChat waits 5 s for the merchant's answer. */
export const NOTIFY_TIMEOUT_MS = 5000;

export interface DeliveryResult {
  url: string;
  /** HTTP status, or null when no answer came (refused, timed out). */
  status: number | null;
  /** return_code of the answer XML, or null when the answer was not pay XML. */
  returnCode: string | null;
}

/** One notify as it goes on the wire: v2's XML, or v3's signed JSON (re-signed at every attempt, so a late retry is fresh). */
export interface OutgoingNotify {
  contentType: string;
  body: string;
  headers?: () => Record<string, string>;
  /** Whether the merchant's answer stops the retries. */
  accepted: (result: DeliveryResult) => boolean;
}

export interface NotifyDeliveryOptions {
  /** Multiplies WeChat's retry delays: 0.001 turns 15 s into 15 ms so tests can watch the whole schedule. */
  retryScale: number;
  timeoutMs?: number;
}

/**
 * Posts pay-result notifies the way WeChat does: once now, then again on WeChat's schedule until the merchant
 * answers SUCCESS. close() cancels every pending retry and in-flight request, so a closing server is not held up.
 */
export class NotifyDelivery {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly closing = new AbortController();

  constructor(private readonly opts: NotifyDeliveryOptions) {}

  /** Resolves with the first attempt's outcome; retries carry on in the background. */
  deliver(url: string, xml: string, onAttempt: () => void): Promise<DeliveryResult> {
    return this.send(url, { contentType: 'text/xml', body: xml, accepted: delivered }, onAttempt);
  }

  /** Any message (deliver() is the v2 XML one); resolves with the first attempt's outcome. */
  async send(url: string, message: OutgoingNotify, onAttempt: () => void): Promise<DeliveryResult> {
    const first = await this.attempt(url, message, onAttempt);
    if (!message.accepted(first)) this.retryLater(url, message, onAttempt, 0);
    return first;
  }

  close() {
    this.closing.abort();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private retryLater(url: string, message: OutgoingNotify, onAttempt: () => void, retry: number) {
    if (this.closing.signal.aborted || retry >= NOTIFY_RETRY_SECONDS.length) return;
    // attempt() never rejects, so nothing is left unhandled by the timer.
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        void this.attempt(url, message, onAttempt).then((result) => {
          if (!message.accepted(result)) this.retryLater(url, message, onAttempt, retry + 1);
        });
      },
      NOTIFY_RETRY_SECONDS[retry] * 1000 * this.opts.retryScale,
    );
    this.timers.add(timer);
  }

  /** Never throws: a refused connection or a timeout is just a failed delivery. */
  private async attempt(url: string, message: OutgoingNotify, onAttempt: () => void): Promise<DeliveryResult> {
    if (this.closing.signal.aborted) return { url, status: null, returnCode: null };
    onAttempt();
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': message.contentType, ...message.headers?.() },
        body: message.body,
        signal: AbortSignal.any([AbortSignal.timeout(this.opts.timeoutMs ?? NOTIFY_TIMEOUT_MS), this.closing.signal]),
      });
      const text = await res.text();
      return { url, status: res.status, returnCode: returnCodeOf(text) };
    } catch {
      return { url, status: null, returnCode: null };
    }
  }
}

/** WeChat stops retrying only at a 2xx answer whose XML says SUCCESS. */
export function delivered(result: DeliveryResult): boolean {
  return result.status !== null && result.status >= 200 && result.status < 300 && result.returnCode === 'SUCCESS';
}

function returnCodeOf(text: string): string | null {
  try {
    return parsePayXml(text).return_code ?? null;
  } catch {
    return null;
  }
}

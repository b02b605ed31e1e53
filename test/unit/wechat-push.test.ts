import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  parseMediaCheckEvent,
  parsePushEvent,
  pushSignature,
  PUSH_MAX_SKEW_SECONDS,
  verifyPushQuery,
} from '../../src/wechat/push';

const fixture = (name: string) => readFileSync(join(__dirname, '../fixtures/wechat-push', name), 'utf8');

describe('message push signature', () => {
  // wechatpy tests/test_utils.py, test_check_signature_should_ok / _should_fail.
  const sample = { token: 'test', timestamp: '1410685589', nonce: 'test' };
  const signature = 'f21891de399b4e33a1a93c9a7b8a8fffb5a443ff';

  it("when signing wechatpy's sample, then the digest is the one WeChat's algorithm gives", () => {
    expect(pushSignature(sample.token, sample.timestamp, sample.nonce)).toBe(signature);
  });

  it('when the sample is verified at its own time, then it passes; one hex digit off, another token, or upper case', () => {
    const now = Number(sample.timestamp);
    expect(verifyPushQuery('test', { signature, timestamp: sample.timestamp, nonce: 'test' }, now)).toEqual({
      ok: true,
      timestamp: sample.timestamp,
      nonce: 'test',
    });
    expect(
      verifyPushQuery('test', { signature: signature.toUpperCase(), timestamp: sample.timestamp, nonce: 'test' }, now)
        .ok,
    ).toBe(true);
    const off = 'f21891de399b4e33a1a93c9a7b8a8fffb5a443fe';
    expect(verifyPushQuery('test', { signature: off, timestamp: sample.timestamp, nonce: 'test' }, now)).toEqual({
      ok: false,
      reason: 'signature does not match the token',
    });
    expect(verifyPushQuery('other', { signature, timestamp: sample.timestamp, nonce: 'test' }, now).ok).toBe(false);
  });

  it('when the timestamp is outside the window, or a parameter is missing or malformed, then it is refused with a reason', () => {
    const at = Number(sample.timestamp);
    const q = { signature, timestamp: sample.timestamp, nonce: 'test' };
    expect(verifyPushQuery('test', q, at + PUSH_MAX_SKEW_SECONDS).ok).toBe(true);
    expect(verifyPushQuery('test', q, at + PUSH_MAX_SKEW_SECONDS + 1)).toEqual({
      ok: false,
      reason: `timestamp is more than ${PUSH_MAX_SKEW_SECONDS} s from this server's clock`,
    });
    expect(verifyPushQuery('test', q, at - PUSH_MAX_SKEW_SECONDS - 1).ok).toBe(false);
    for (const bad of [
      { ...q, signature: undefined },
      { ...q, timestamp: ['1', '2'] },
      { ...q, timestamp: '14106855.89' },
      { ...q, nonce: 'a b' },
      { ...q, signature: 'zz' },
    ]) {
      const verdict = verifyPushQuery('test', bad, at);
      expect(verdict.ok).toBe(false);
      // The reason names what was wrong, never the token or the expected digest.
      if (!verdict.ok) expect(verdict.reason).not.toMatch(/test|f21891/);
    }
  });
});

describe('push events', () => {
  it('when a real wxa_media_check push (label as a string, no top-level errcode) is parsed, then its verdict is read', () => {
    const raw = fixture('community-wxa-media-check-pass.json');
    const event = parsePushEvent(raw);
    expect(event?.event).toBe('wxa_media_check');
    expect(parseMediaCheckEvent(event!.body)).toEqual({
      traceId: '690b03d2-301f6111-35ffbd44',
      suggest: 'pass',
      label: 100,
      errcode: 0,
      appid: 'wxb04d1be1ede56d47',
    });
  });

  it('when WeChat reports an errcode, or the verdict is review or risky, then it is never a pass', () => {
    const body = JSON.parse(fixture('community-wxa-media-check-pass.json')) as Record<string, unknown>;
    expect(parseMediaCheckEvent({ ...body, errcode: 1 })).toMatchObject({ suggest: 'risky', errcode: 1 });
    expect(parseMediaCheckEvent({ ...body, result: { suggest: 'review', label: 20002 } })).toMatchObject({
      suggest: 'review',
      label: 20002,
    });
    expect(parseMediaCheckEvent({ ...body, result: { suggest: 'maybe' } })).toEqual({
      error: 'no known result.suggest',
    });
    expect(parseMediaCheckEvent({ ...body, result: undefined })).toEqual({ error: 'no known result.suggest' });
  });

  it('when the trace_id is missing, empty, too long or not printable, then the event is unusable', () => {
    const body = JSON.parse(fixture('community-wxa-media-check-pass.json')) as Record<string, unknown>;
    for (const trace_id of [undefined, '', 'x'.repeat(65), 'a b', 42])
      expect(parseMediaCheckEvent({ ...body, trace_id })).toEqual({ error: 'no usable trace_id' });
  });

  it('when the body is not a JSON object with a MsgType, then it is no event; a plain message is named msg:<type>', () => {
    for (const raw of ['', 'null', '[]', '"x"', '{"Event":"wxa_media_check"}', '<xml></xml>', '{"MsgType":"event"}'])
      expect([raw, parsePushEvent(raw)]).toEqual([raw, undefined]);
    expect(parsePushEvent('{"MsgType":"text","Content":"hi"}')?.event).toBe('msg:text');
  });
});

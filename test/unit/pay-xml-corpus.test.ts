import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { paySign, type SignType, verifyPaySign } from '../../src/wechat/pay-sign';
import { parsePayXml, PayXmlError } from '../../src/wechat/pay-xml';

/**
 * WeChat Pay messages as they really come: WeChat's documented samples and the notifies and answers in other SDKs'
 * test suites (test/fixtures/wechat-pay/index.json names each one's source). The expected fields were read by an
 * independent XML parser, so this suite checks ours against the real world, not against our own builder.
 */
interface Fixture {
  file: string;
  message: string;
  features: string[];
  fields: Record<string, string>;
  key?: string;
  signType?: SignType;
}

const dir = join(__dirname, '../fixtures/wechat-pay');
const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
  messages: Fixture[];
  refused: { file: string; reason: string }[];
};
const text = (file: string) => readFileSync(join(dir, file), 'utf8');

describe('the real-world corpus', () => {
  it('when counted, then it holds 10+ messages covering every layout and both sign types', () => {
    expect(index.messages.length).toBeGreaterThanOrEqual(10);
    const features = new Set(index.messages.flatMap((m) => m.features));
    for (const f of ['newline', 'indented', 'crlf', 'declaration', 'bom', 'cdata', 'bare', 'empty'])
      expect(features).toContain(f);
    const signTypes = new Set(index.messages.map((m) => m.signType).filter(Boolean));
    expect([...signTypes].sort()).toEqual(['HMAC-SHA256', 'MD5']);
  });

  it.each(index.messages.map((m) => [m.file, m] as const))(
    'when %s is parsed, then it gives exactly its fields and no layout key',
    (_file, m) => {
      const fields = parsePayXml(text(m.file));
      expect(fields).toEqual(m.fields);
      expect(Object.keys(fields)).not.toContain('#text');
    },
  );

  const signed = index.messages.filter((m) => m.key);
  it.each(signed.map((m) => [m.file, m] as const))(
    'when %s is checked with its known key, then its sign verifies, and fails for any changed value',
    (_file, m) => {
      const fields = parsePayXml(text(m.file));
      expect(verifyPaySign(fields, m.key!, m.signType)).toBe(true);
      const [first] = Object.keys(fields).filter((k) => k !== 'sign');
      expect(verifyPaySign({ ...fields, [first]: `${fields[first]} ` }, m.key!, m.signType)).toBe(false);
    },
  );

  it('when a layout is what makes the message, then the sign is over the values alone', () => {
    // The same params, laid out three ways by three sources, sign alike: the whitespace is not in it.
    const doc = parsePayXml(text('wechat-doc-sign-example.xml'));
    const derived = parsePayXml(text('derived-doc-sign-example-hmac-crlf-decl.xml'));
    const { sign: _a, ...docParams } = doc;
    const { sign: _b, ...derivedParams } = derived;
    expect(derivedParams).toEqual(docParams);
    expect(paySign(docParams, '192006250b4c09247ec02edce69f6a2d', 'HMAC-SHA256')).toBe(derived.sign);
  });

  it('when values sit in CDATA or text, then they are exact: nothing trimmed, empty stays empty, JSON stays JSON', () => {
    const refund = parsePayXml(text('wxjava-refund.xml'));
    expect(refund.refund_channel).toBe('');
    expect(refund.refund_fee).toBe('2');
    const promotion = parsePayXml(text('wxjava-refund-promotion.xml'));
    const detail = JSON.parse(promotion.promotion_detail) as { promotion_detail: { promotion_id: string }[] };
    expect(detail.promotion_detail[0].promotion_id).toBe('109519');
    expect(promotion.total_fee).toBe('1');
    expect(parsePayXml(text('gochat-orderquery.xml')).attach).toBe('订单额外描述');
    expect(parsePayXml(text('wechatpy-refund-notify.xml')).req_info).toMatch(/^51A27s9L.*Lvw=$/);
  });

  it.each(index.refused.map((r) => [r.file, r.reason, r] as const))(
    'when %s is parsed, then it is refused as %s',
    (_file, _reason, r) => {
      let error: unknown;
      try {
        parsePayXml(text(r.file));
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(PayXmlError);
      expect((error as PayXmlError).reason).toBe(r.reason);
    },
  );
});

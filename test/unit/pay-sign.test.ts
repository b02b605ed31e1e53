import { paySign, verifyPaySign } from '../../src/wechat/pay-sign';
import { buildPayXml, NOTIFY_SUCCESS, notifyFail, parsePayXml, PayXmlError } from '../../src/wechat/pay-xml';
import { createPayClient } from '../../src/wechat/pay.client';
import { parseTimeEnd } from '../../src/payment/settle';
import { newOutTradeNo } from '../../src/payment/payment.service';

// WeChat's published example (pay.weixin.qq.com, "安全规范"), quoted in WECHAT.md.
const example = {
  appid: 'wxd930ea5d5a258f4f',
  mch_id: '10000100',
  device_info: '1000',
  body: 'test',
  nonce_str: 'ibuaiVcKdpRxkhJA',
};
const key = '192006250b4c09247ec02edce69f6a2d';

describe('paySign', () => {
  it("when given WeChat's published example, then MD5 and HMAC-SHA256 match WeChat's published signs", () => {
    expect(paySign(example, key, 'MD5')).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
    expect(paySign(example, key, 'HMAC-SHA256')).toBe(
      '6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6',
    );
  });

  it('when params include sign, empty values or a different key order, then the sign is unchanged', () => {
    const shuffled = {
      nonce_str: example.nonce_str,
      body: 'test',
      sign: 'WHATEVER',
      empty: '',
      missing: undefined,
      appid: example.appid,
      device_info: '1000',
      mch_id: '10000100',
    };
    expect(paySign(shuffled, key, 'MD5')).toBe('9A0A8659F005D6984697E2CA0A9CF3B7');
  });

  it('when verifying, then sign_type is honoured, the compare ignores hex case, and any change fails', () => {
    const md5 = { ...example, sign: '9A0A8659F005D6984697E2CA0A9CF3B7' };
    expect(verifyPaySign(md5, key)).toBe(true);
    expect(verifyPaySign({ ...md5, sign: md5.sign.toLowerCase() }, key)).toBe(true);
    expect(verifyPaySign({ ...md5, body: 'test2' }, key)).toBe(false);
    expect(verifyPaySign(md5, key.replace('1', '2'))).toBe(false);
    const withType = { ...example, sign_type: 'HMAC-SHA256' };
    expect(verifyPaySign({ ...withType, sign: paySign(withType, key, 'HMAC-SHA256') }, key)).toBe(true);
    expect(verifyPaySign({ ...withType, sign: paySign(withType, key, 'MD5') }, key)).toBe(false);
    expect(verifyPaySign({ ...example, sign_type: 'SHA1', sign: 'X' }, key)).toBe(false);
    expect(verifyPaySign({ ...example }, key)).toBe(false);
  });

  it('when the key is empty (a v3 merchant has no v2 key), then nothing verifies, even a sign made with that empty key', () => {
    const forged = { ...example, sign: paySign(example, '', 'MD5') };
    expect(verifyPaySign(forged, '')).toBe(false);
    const hmac = { ...example, sign_type: 'HMAC-SHA256' };
    expect(verifyPaySign({ ...hmac, sign: paySign(hmac, '', 'HMAC-SHA256') }, '')).toBe(false);
  });
});

describe('requestPaymentParams (the second signature)', () => {
  it.each(['MD5', 'HMAC-SHA256'] as const)(
    'when signType is %s, then paySign covers exactly appId, timeStamp, nonceStr, package and signType',
    (signType) => {
      const client = createPayClient({
        apiBase: () => 'http://unused',
        appid: 'wxd930ea5d5a258f4f',
        mchId: '10000100',
        key,
        signType,
        timeoutMs: 1000,
      });
      const p = client.requestPaymentParams('wx201410272009395522657a690389285100', 1_414_561_699_000);
      expect(p.timeStamp).toBe('1414561699');
      expect(p.package).toBe('prepay_id=wx201410272009395522657a690389285100');
      expect(p.signType).toBe(signType);
      expect(p.paySign).toBe(
        paySign(
          { appId: 'wxd930ea5d5a258f4f', timeStamp: p.timeStamp, nonceStr: p.nonceStr, package: p.package, signType },
          key,
          signType,
        ),
      );
      expect(p.nonceStr).toMatch(/^[A-Za-z0-9_-]{32}$/);
    },
  );
});

describe('pay XML', () => {
  it('when a value has <, & or an emoji, then building escapes it and parsing restores it exactly', () => {
    const xml = buildPayXml({ body: 'A&B <测试> 🐱', total_fee: 1, empty: '' });
    expect(xml).toBe('<xml><body>A&amp;B &lt;测试&gt; 🐱</body><total_fee>1</total_fee></xml>');
    expect(parsePayXml(xml)).toEqual({ body: 'A&B <测试> 🐱', total_fee: '1' });
  });

  it('when numbers have leading zeros or CDATA holds entities, then every value stays the exact string', () => {
    expect(parsePayXml('<xml><total_fee>0100</total_fee><a><![CDATA[x &amp; y]]></a><b> 1 </b></xml>')).toEqual({
      total_fee: '0100',
      a: 'x &amp; y',
      b: ' 1 ',
    });
  });

  it.each([
    ['a newline between elements', '<xml><appid><![CDATA[wx1]]></appid>\n<total_fee>1</total_fee>\n</xml>'],
    ['CRLF and indentation', '<xml>\r\n  <appid><![CDATA[wx1]]></appid>\r\n  <total_fee>1</total_fee>\r\n</xml>\r\n'],
    [
      'an XML declaration and a BOM',
      '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<xml>\n\t<appid><![CDATA[wx1]]></appid>\n\t<total_fee>1</total_fee>\n</xml>',
    ],
  ])('when the XML has %s, then the layout is no field and the values are exact', (_name, text) => {
    expect(parsePayXml(text)).toEqual({ appid: 'wx1', total_fee: '1' });
  });

  it('when whitespace is inside a value or its CDATA, then it is kept', () => {
    expect(parsePayXml('<xml>\n<a><![CDATA[ x ]]></a>\n<b> 1 </b>\n</xml>')).toEqual({ a: ' x ', b: ' 1 ' });
  });

  it.each([
    ['a DOCTYPE', '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">]><xml><x>&a;</x></xml>', 'DOCTYPE'],
    ['an ENTITY alone', '<xml><!ENTITY a "b"><x>1</x></xml>', 'DOCTYPE'],
    ['an unclosed tag', '<xml><a>1</a>', 'MALFORMED'],
    ['plain text', 'return_code=SUCCESS', 'MALFORMED'],
    ['an empty body', '', 'MALFORMED'],
    ['another root', '<root><a>1</a></root>', 'MALFORMED'],
    ['a repeated field', '<xml><a>1</a><a>2</a></xml>', 'NOT_FLAT'],
    ['a nested field', '<xml><a><b>1</b></a></xml>', 'NOT_FLAT'],
    ['text between the fields', '<xml><a>1</a>junk\n<b>2</b></xml>', 'MALFORMED'],
    ['text as the only content', '<xml>junk</xml>', 'MALFORMED'],
    ['a second, self-closing root', '<xml><a>1</a></xml><foo/>', 'MALFORMED'],
    ['a second root after a newline', '<xml><a>1</a></xml>\n<foo>x</foo>', 'MALFORMED'],
    ['a processing instruction before the root', '<?pi x?><xml><a>1</a></xml>', 'MALFORMED'],
    ['a processing instruction among the fields', '<xml><?pi x?><a>1</a></xml>', 'MALFORMED'],
  ])('when the body is %s, then it is refused as %s', (_name, text, reason) => {
    expect(() => parsePayXml(text)).toThrow(PayXmlError);
    try {
      parsePayXml(text);
    } catch (e) {
      expect((e as PayXmlError).reason).toBe(reason);
    }
  });

  it('when answering a notify, then the XML is exactly what WeChat documents', () => {
    expect(NOTIFY_SUCCESS).toBe(
      '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>',
    );
    expect(parsePayXml(notifyFail('bad ]]> sign'))).toEqual({ return_code: 'FAIL', return_msg: 'bad ]]> sign' });
  });
});

describe('order numbers and times', () => {
  it('when generated, then out_trade_no is at most 32 of [0-9A-Za-z_-] and unique', () => {
    const many = new Set(Array.from({ length: 1000 }, () => newOutTradeNo()));
    expect(many.size).toBe(1000);
    for (const n of many) expect(n).toMatch(/^[0-9A-Za-z_-]{1,32}$/);
  });

  it('when time_end is China time, then it becomes the right instant; unreadable ones fall back', () => {
    expect(parseTimeEnd('20261123200000').toISOString()).toBe('2026-11-23T12:00:00.000Z');
    const now = new Date('2026-01-01T00:00:00Z');
    expect(parseTimeEnd('garbage', now)).toBe(now);
    expect(parseTimeEnd(undefined, now)).toBe(now);
  });
});

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../../src/core/errors';
import { buildPayXml, PAY_XML_LAYOUTS } from '../../src/wechat/pay-xml';
import {
  decryptRefundNotify,
  decryptRefundReqInfo,
  encryptRefundReqInfo,
  encryptReqInfoText,
  type RefundReqInfo,
} from '../../src/wechat/refund-notify';

/**
 * Refund notifies as other SDKs' test suites hold them (test/fixtures/wechat-pay-refund/index.json names each
 * source). The expected plaintext and fields were read with openssl and Python's ElementTree, not with our code, and
 * `documented` is what each source itself asserts.
 */
interface Sample {
  file: string;
  kind: 'notify' | 'req_info';
  key: string;
  documented: Record<string, string>;
  outer?: Record<string, string>;
  plaintext: string;
  fields: Record<string, string>;
}

const dir = join(__dirname, '../fixtures/wechat-pay-refund');
const { samples } = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { samples: Sample[] };
const text = (file: string) => readFileSync(join(dir, file), 'utf8');
const reqInfoOf = (s: Sample) =>
  s.kind === 'req_info' ? text(s.file) : /<req_info><!\[CDATA\[([^\]]*)\]\]><\/req_info>/.exec(text(s.file))![1];
const byFile = (file: string) => samples.find((s) => s.file === file)!;

/** The typed answer written back as the wire's fields, so it can be held to the independently read ones. */
function wire(info: RefundReqInfo): Record<string, string> {
  const out: Record<string, string | number | undefined> = {
    out_refund_no: info.outRefundNo,
    out_trade_no: info.outTradeNo,
    refund_id: info.refundId,
    transaction_id: info.transactionId,
    total_fee: info.totalFee,
    refund_fee: info.refundFee,
    settlement_refund_fee: info.settlementRefundFee,
    settlement_total_fee: info.settlementTotalFee,
    refund_status: info.refundStatus,
    success_time: info.successTime,
    refund_recv_accout: info.refundRecvAccout,
    refund_account: info.refundAccount,
    refund_request_source: info.refundRequestSource,
  };
  return Object.fromEntries(Object.entries(out).flatMap(([k, v]) => (v === undefined ? [] : [[k, String(v)]])));
}

// A merchant of our own for the refusals: every secret a message could leak is known.
const apiKey = 'Kx7cTq2mV9pLr4Ns8Wd3Yh6Jf1Bg5Zu0';
const aesKey = createHash('md5').update(apiKey).digest('hex');
const good = {
  out_refund_no: 'R20261203000001',
  out_trade_no: 'T20261203000001',
  refund_id: '50300000000000000000000000001',
  transaction_id: '4200000000000000000000000001',
  total_fee: 300,
  refund_fee: 120,
  settlement_refund_fee: 120,
  refund_status: 'SUCCESS',
  success_time: '2026-12-03 22:01:02',
  refund_recv_accout: '支付用户零钱',
  refund_account: 'REFUND_SOURCE_UNSETTLED_FUNDS',
  refund_request_source: 'API',
};
const notifyOf = (reqInfo: string | undefined, over: Record<string, string | undefined> = {}) =>
  buildPayXml(
    {
      return_code: 'SUCCESS',
      appid: 'wx0000refund0000',
      mch_id: '1900000001',
      nonce_str: 'n0nce',
      req_info: reqInfo,
      ...over,
    },
    'newline',
  );

interface Refusal {
  code: string;
  reason: unknown;
  field?: unknown;
  message: string;
}

/** Runs fn, which must refuse with an AppError that carries no secret: the keys, nor any of `plain` (decrypted values). */
function refusal(fn: () => unknown, plain: string[] = []): Refusal {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  if (!(err instanceof AppError)) throw new Error(`expected an AppError, got ${String(err)}`);
  // No cause rides along (a parser's message may quote the plaintext); the stack adds only code locations to the
  // message, and short values (a fee of "1") would match anything.
  expect(err.cause).toBeUndefined();
  const shown = `${err.message} ${JSON.stringify(err.extensions)}`;
  for (const secret of [apiKey, aesKey, ...samples.map((s) => s.key), ...plain.filter((v) => v.length >= 4)])
    expect({ message: err.message, leaks: shown.includes(secret) ? secret : undefined }).toEqual({
      message: err.message,
      leaks: undefined,
    });
  return { code: err.code, reason: err.extensions.reason, field: err.extensions.field, message: err.message };
}

const sealedWith = (over: Record<string, string | number | undefined>) =>
  encryptRefundReqInfo({ ...good, ...over }, apiKey);
// The decrypted values distinctive enough to spot in a message (a status or a fee would match ordinary words).
const goodValues = [
  good.out_refund_no,
  good.out_trade_no,
  good.refund_id,
  good.transaction_id,
  good.success_time,
  good.refund_recv_accout,
  good.refund_account,
];

describe('refund notifies from other SDKs', () => {
  it('when counted, then there are full notifies and bare req_info values, each with its known key', () => {
    expect(samples.map((s) => s.kind).sort()).toEqual(['notify', 'notify', 'req_info', 'req_info']);
    for (const s of samples) expect(s.key).not.toBe('');
  });

  it.each(samples.map((s) => [s.file, s] as const))(
    "when the fixture %s is read, then what its source documents agrees with the independent reading (the fixture's own check)",
    (_file, s) => {
      expect(s.fields).toMatchObject(s.documented);
      expect(s.plaintext.startsWith('<root>')).toBe(true);
    },
  );

  it.each(samples.map((s) => [s.file, s] as const))(
    'when %s is decrypted with its key, then every field equals the independently read plaintext, amounts as integer fen',
    (_file, s) => {
      const info =
        s.kind === 'notify' ? decryptRefundNotify(text(s.file), s.key) : decryptRefundReqInfo(text(s.file), s.key);
      expect(wire(info)).toEqual(s.fields);
      for (const amount of [info.totalFee, info.refundFee, info.settlementRefundFee, info.settlementTotalFee])
        expect(Number.isSafeInteger(amount)).toBe(true);
      if (s.kind === 'notify') {
        const notify = info as ReturnType<typeof decryptRefundNotify>;
        expect({ appid: notify.appid, mch_id: notify.mchId, nonce_str: notify.nonceStr }).toEqual({
          appid: s.outer!.appid,
          mch_id: s.outer!.mch_id,
          nonce_str: s.outer!.nonce_str,
        });
      }
    },
  );

  it.each(samples.map((s) => [s.file, s] as const))(
    "when %s's plaintext is sealed with its key, then the result is its source's req_info byte for byte",
    (_file, s) => {
      // ECB is deterministic, so this holds the sealing side (key derivation, padding) to a ciphertext made elsewhere.
      expect(encryptReqInfoText(s.plaintext, s.key)).toBe(reqInfoOf(s));
    },
  );

  it('when a notify arrives as raw bytes, then it reads as its text does', () => {
    const s = byFile('easyabp-refund-notify.xml');
    const bytes = readFileSync(join(dir, s.file));
    expect(decryptRefundNotify(bytes, s.key)).toEqual(decryptRefundNotify(bytes.toString('utf8'), s.key));
  });

  it("when the documented sample is read, then success_time is China time and WeChat's spelling survives", () => {
    const info = decryptRefundReqInfo(text('gochat-req-info.b64'), byFile('gochat-req-info.b64').key);
    expect(info.succeededAt?.toISOString()).toBe('2018-11-19T08:24:13.000Z');
    expect(info.refundRecvAccout).toBe('支付用户零钱');
    expect(info.refundStatus).toBe('SUCCESS');
  });
});

describe('encryptRefundReqInfo', () => {
  const real = byFile('gochat-req-info.b64');
  const realInfo = () => decryptRefundReqInfo(text(real.file), real.key);

  it.each(PAY_XML_LAYOUTS)(
    "when a real sample's fields are sealed in the %s layout, then they decrypt to the same refund",
    (layout) => {
      expect(decryptRefundReqInfo(encryptRefundReqInfo(real.fields, apiKey, layout), apiKey)).toEqual(realInfo());
    },
  );

  it('when sealed into a whole notify, then decryptRefundNotify gives it back with the outer fields', () => {
    expect(decryptRefundNotify(notifyOf(sealedWith({})), apiKey)).toEqual({
      appid: 'wx0000refund0000',
      mchId: '1900000001',
      nonceStr: 'n0nce',
      outRefundNo: good.out_refund_no,
      outTradeNo: good.out_trade_no,
      refundId: good.refund_id,
      transactionId: good.transaction_id,
      totalFee: 300,
      refundFee: 120,
      settlementRefundFee: 120,
      refundStatus: 'SUCCESS',
      successTime: '2026-12-03 22:01:02',
      succeededAt: new Date('2026-12-03T14:01:02.000Z'),
      refundRecvAccout: '支付用户零钱',
      refundAccount: 'REFUND_SOURCE_UNSETTLED_FUNDS',
      refundRequestSource: 'API',
    });
  });

  it.each(['CHANGE', 'REFUNDCLOSE'])(
    'when the refund ended %s without a success_time (absent or empty), then it reads without succeededAt',
    (status) => {
      const plain = buildPayXml({ ...good, refund_status: status, success_time: undefined }, 'newline', 'root');
      for (const sealed of [
        encryptReqInfoText(plain, apiKey),
        encryptReqInfoText(plain.replace('</root>', '<success_time></success_time></root>'), apiKey),
      ]) {
        const info = decryptRefundReqInfo(sealed, apiKey);
        expect([info.refundStatus, info.successTime, info.succeededAt]).toEqual([status, undefined, undefined]);
      }
    },
  );

  it('when the same fields are sealed twice, then the req_info is the same (ECB has no iv), and another key gives another', () => {
    expect(sealedWith({})).toBe(sealedWith({}));
    expect(encryptRefundReqInfo(good, `${apiKey}x`)).not.toBe(sealedWith({}));
  });
});

describe('decryptRefundNotify refusals: each a clear AppError with no secret in it', () => {
  const s = byFile('wechatpy-refund-notify.xml');
  const realXml = text(s.file);
  const realReqInfo = reqInfoOf(s);
  const realPlain = Object.values(s.fields);
  const withReqInfo = (reqInfo: string) => realXml.replace(realReqInfo, reqInfo);
  const bytes = () => Buffer.from(realReqInfo, 'base64');

  it('when decrypted with another API key, then it is refused as undecryptable, naming neither key', () => {
    for (const key of [apiKey, s.key.toLowerCase(), `${s.key} `])
      expect(refusal(() => decryptRefundNotify(realXml, key), realPlain)).toEqual({
        code: 'WECHAT_DECRYPT_FAILED',
        reason: 'UNDECRYPTABLE',
        field: 'req_info',
        message:
          'refund notify: req_info does not decrypt under this API key (bad PKCS#7 padding): a wrong key or a tampered message',
      });
  });

  it('when the last block is tampered, then the padding check refuses it', () => {
    const b = bytes();
    b[b.length - 1] ^= 0x01;
    expect(refusal(() => decryptRefundNotify(withReqInfo(b.toString('base64')), s.key), realPlain)).toMatchObject({
      code: 'WECHAT_DECRYPT_FAILED',
      reason: 'UNDECRYPTABLE',
    });
  });

  it('when a middle block is tampered, then the garbled plaintext is refused, and nothing of it is shown', () => {
    for (const at of [40, 200, 500]) {
      const b = bytes();
      b[at] ^= 0x01;
      expect(refusal(() => decryptRefundNotify(withReqInfo(b.toString('base64')), s.key), realPlain)).toMatchObject({
        code: 'WECHAT_DECRYPT_FAILED',
        reason: 'BAD_PLAINTEXT',
        field: 'req_info',
      });
    }
  });

  it('when the padding is wrong (zero, over 16, or not repeated), then it is refused; a valid one-byte pad is not the problem', () => {
    // Seal 16 bytes, then drop the full padding block ECB appended: the last byte of the text is now the padding.
    const sealedRaw = (last: number) => {
      const full = Buffer.from(
        encryptReqInfoText(Buffer.from([...Buffer.from('A'.repeat(15)), last]), apiKey),
        'base64',
      );
      return full.subarray(0, 16).toString('base64');
    };
    for (const last of [0x00, 0x11, 0x02, 0x10])
      expect(refusal(() => decryptRefundReqInfo(sealedRaw(last), apiKey))).toMatchObject({
        code: 'WECHAT_DECRYPT_FAILED',
        reason: 'UNDECRYPTABLE',
      });
    // 0x01 is a valid pad, so the padding passes and what is left ("AAAAAAAAAAAAAAA") is refused as no <root>.
    expect(refusal(() => decryptRefundReqInfo(sealedRaw(0x01), apiKey))).toMatchObject({ reason: 'BAD_PLAINTEXT' });
  });

  it('when req_info is not whole 16-byte blocks, then it is refused before decrypting', () => {
    for (const b of [Buffer.concat([bytes(), Buffer.from([1])]), bytes().subarray(0, 15)])
      expect(refusal(() => decryptRefundNotify(withReqInfo(b.toString('base64')), s.key))).toEqual({
        code: 'WECHAT_DECRYPT_FAILED',
        reason: 'UNDECRYPTABLE',
        field: 'req_info',
        message: 'refund notify: req_info is not whole AES blocks',
      });
  });

  it('when req_info is not canonical base64 (a + mangled to a space, a line break, URL-safe letters, spare bits), then it is refused', () => {
    const mangled = [
      realReqInfo.replace('+', ' '),
      `${realReqInfo.slice(0, 76)}\n${realReqInfo.slice(76)}`,
      realReqInfo.replace(/\+/g, '-').replace(/\//g, '_'),
      realReqInfo.replace(/=$/, ''),
      'QUJ=',
      '%%%%',
    ];
    for (const bad of mangled)
      expect(refusal(() => decryptRefundNotify(withReqInfo(bad), s.key))).toEqual({
        code: 'BAD_USER_INPUT',
        reason: 'BAD_BASE64',
        field: 'req_info',
        message: 'refund notify: req_info is not canonical base64',
      });
  });

  it('when return_code is FAIL or absent, then it is refused before anything is decrypted', () => {
    for (const xml of [
      buildPayXml({ return_code: 'FAIL', return_msg: 'bad things' }, 'newline'),
      notifyOf(sealedWith({}), { return_code: 'FAIL' }),
      notifyOf(sealedWith({}), { return_code: undefined }),
      notifyOf(sealedWith({}), { return_code: 'success' }),
    ])
      expect(refusal(() => decryptRefundNotify(xml, apiKey), goodValues)).toEqual({
        code: 'BAD_USER_INPUT',
        reason: 'RETURN_FAIL',
        field: undefined,
        message: 'refund notify: return_code is not SUCCESS',
      });
  });

  it.each(['req_info', 'appid', 'mch_id'])('when %s is missing or empty, then it is refused naming it', (field) => {
    for (const value of [undefined, '']) {
      const xml =
        value === undefined
          ? notifyOf(sealedWith({}), { [field]: undefined })
          : notifyOf(sealedWith({}), { [field]: undefined }).replace('</xml>', `<${field}></${field}></xml>`);
      expect(refusal(() => decryptRefundNotify(xml, apiKey), goodValues)).toEqual({
        code: 'BAD_USER_INPUT',
        reason: 'MISSING_FIELD',
        field,
        message: `refund notify: ${field} is missing`,
      });
    }
  });

  it('when the body is not well-formed XML, not UTF-8, or declares a DOCTYPE, then it is refused', () => {
    expect(refusal(() => decryptRefundNotify(realXml.slice(0, -10), s.key))).toMatchObject({
      code: 'BAD_USER_INPUT',
      reason: 'MALFORMED',
    });
    expect(refusal(() => decryptRefundNotify(Buffer.from([0x3c, 0x78, 0xff, 0xfe]), s.key))).toEqual({
      code: 'BAD_USER_INPUT',
      reason: 'MALFORMED',
      field: undefined,
      message: 'refund notify: the body is not UTF-8',
    });
    const xxe = `<!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>${realXml.trim()}`;
    expect(refusal(() => decryptRefundNotify(xxe, s.key))).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'DOCTYPE' });
  });

  it('when no API key is configured, then it is refused instead of decrypting under md5("")', () => {
    expect(refusal(() => decryptRefundNotify(realXml, ''))).toMatchObject({
      code: 'WECHAT_DECRYPT_FAILED',
      reason: 'NO_KEY',
    });
  });
});

describe('decryptRefundReqInfo: a plaintext that opens but is no refund result', () => {
  const sealedText = (plain: string | Buffer) => encryptReqInfoText(plain, apiKey);

  it.each([
    ['not <root>', buildPayXml(good, 'newline'), 'MALFORMED'],
    ['unclosed', '<root><out_refund_no>R1</root>', 'MALFORMED'],
    ['two roots', `${buildPayXml(good, 'newline', 'root')}<root></root>`, 'MALFORMED'],
    [
      'a nested element',
      buildPayXml(good, 'newline', 'root').replace('<refund_fee>120', '<refund_fee><fen>120</fen>'),
      'NOT_FLAT',
    ],
    [
      'a repeated field',
      buildPayXml(good, 'newline', 'root').replace('</root>', '<refund_fee>999999</refund_fee></root>'),
      'NOT_FLAT',
    ],
    ['text outside the fields', buildPayXml(good, 'newline', 'root').replace('</root>', 'stray</root>'), 'MALFORMED'],
    ['a DOCTYPE', `<!DOCTYPE root [<!ENTITY e "1">]>${buildPayXml(good, 'newline', 'root')}`, 'DOCTYPE'],
  ])('when it is %s, then it is refused with only the parser category in the message', (_what, plain, category) => {
    expect(refusal(() => decryptRefundReqInfo(sealedText(plain), apiKey), goodValues)).toEqual({
      code: 'WECHAT_DECRYPT_FAILED',
      reason: 'BAD_PLAINTEXT',
      field: 'req_info',
      message: `refund notify: req_info decrypts to no flat <root> message (${category})`,
    });
  });

  it('when it is not UTF-8, then it is refused', () => {
    const plain = Buffer.concat([
      Buffer.from('<root><out_refund_no>'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('</out_refund_no></root>'),
    ]);
    expect(refusal(() => decryptRefundReqInfo(sealedText(plain), apiKey))).toEqual({
      code: 'WECHAT_DECRYPT_FAILED',
      reason: 'BAD_PLAINTEXT',
      field: 'req_info',
      message: 'refund notify: req_info decrypts to bytes that are not UTF-8',
    });
  });

  it.each([
    'out_refund_no',
    'out_trade_no',
    'refund_id',
    'transaction_id',
    'total_fee',
    'refund_fee',
    'settlement_refund_fee',
    'refund_status',
  ])('when %s is missing or empty, then it is refused naming it', (field) => {
    for (const value of [undefined, ''])
      expect(refusal(() => decryptRefundReqInfo(sealedWith({ [field]: value }), apiKey), goodValues)).toEqual({
        code: 'WECHAT_DECRYPT_FAILED',
        reason: 'BAD_FIELD',
        field,
        message: `refund notify: req_info lacks ${field}`,
      });
  });

  const junk = ['12abc', '+1', '-1', '1.0', '1e3', ' 1', '1 ', '0x10', '０１', '01', '0100', '9007199254740993', '١٢'];
  it.each(['total_fee', 'refund_fee', 'settlement_refund_fee', 'settlement_total_fee'])(
    'when %s is not plain digits or past the exact integers, then it is refused naming the field, never the value',
    (field) => {
      for (const value of junk) {
        const r = refusal(() => decryptRefundReqInfo(sealedWith({ [field]: value }), apiKey), [value.trim()]);
        expect(r).toEqual({
          code: 'WECHAT_DECRYPT_FAILED',
          reason: 'BAD_FIELD',
          field,
          message: `refund notify: ${field} is not an integer number of fen`,
        });
      }
    },
  );

  it('when amounts are 0 or the largest exact integer, then they read as numbers', () => {
    const info = decryptRefundReqInfo(
      sealedWith({ settlement_refund_fee: '0', total_fee: '9007199254740991' }),
      apiKey,
    );
    expect([info.settlementRefundFee, info.totalFee]).toEqual([0, Number.MAX_SAFE_INTEGER]);
  });

  it.each(['PROCESSING', 'success', 'SUCCESS ', 'REFUND_CLOSE'])(
    'when refund_status is %j, then it is refused, not guessed',
    (status) => {
      expect(refusal(() => decryptRefundReqInfo(sealedWith({ refund_status: status }), apiKey))).toEqual({
        code: 'WECHAT_DECRYPT_FAILED',
        reason: 'BAD_FIELD',
        field: 'refund_status',
        message: 'refund notify: refund_status is not one of SUCCESS, CHANGE, REFUNDCLOSE',
      });
    },
  );

  it.each([
    '2026-12-03T22:01:02',
    '2026-02-30 10:00:00',
    '2026-12-03 24:00:00',
    '2026-12-3 22:01:02',
    '20261203220102',
  ])('when success_time is %j, then it is refused', (time) => {
    expect(refusal(() => decryptRefundReqInfo(sealedWith({ success_time: time }), apiKey), [time])).toEqual({
      code: 'WECHAT_DECRYPT_FAILED',
      reason: 'BAD_FIELD',
      field: 'success_time',
      message: 'refund notify: success_time is not yyyy-MM-dd HH:mm:ss',
    });
  });
});

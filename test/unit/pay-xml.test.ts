import { buildPayXml, PAY_XML_LAYOUTS, parsePayXml, PayXmlError } from '../../src/wechat/pay-xml';

/** Values that break naive XML writers: CDATA's terminator, markup, CR, edge spaces, 4-byte emoji, a JSON body. */
const tricky = {
  appid: 'wx00simulator0000',
  body: 'A&B <测试> 🐱',
  cdata_end: 'x]]>y]]>',
  only_end: ']]>',
  cr: 'a\rb\r\nc',
  lone_cr: '\r',
  spaces: '  padded  ',
  json: '{"goods_detail":[{"goods_id":"1","price":1}]}',
  total_fee: 100,
  empty: '',
  missing: undefined,
};
const expected = {
  appid: 'wx00simulator0000',
  body: 'A&B <测试> 🐱',
  cdata_end: 'x]]>y]]>',
  only_end: ']]>',
  cr: 'a\rb\r\nc',
  lone_cr: '\r',
  spaces: '  padded  ',
  json: '{"goods_detail":[{"goods_id":"1","price":1}]}',
  total_fee: '100',
};

function refusal(text: string): string | undefined {
  try {
    parsePayXml(text);
  } catch (err) {
    if (err instanceof PayXmlError) return err.reason;
    throw err;
  }
  return undefined;
}

describe('buildPayXml layouts', () => {
  it.each(PAY_XML_LAYOUTS)(
    'when built %s, then every value reads back exactly and empty fields are left out',
    (layout) => {
      expect(parsePayXml(buildPayXml(tricky, layout))).toEqual(expected);
    },
  );

  it("when built newline, then it is WeChat's own layout: strings in CDATA, numbers bare, a newline after each field", () => {
    expect(buildPayXml({ appid: 'wx1', bank_type: 'CMC', total_fee: 1 }, 'newline')).toBe(
      '<xml><appid><![CDATA[wx1]]></appid>\n<bank_type><![CDATA[CMC]]></bank_type>\n<total_fee>1</total_fee>\n</xml>',
    );
  });

  it('when built crlf or indented, then only the whitespace between elements differs', () => {
    const fields = { appid: 'wx1', total_fee: 1 };
    expect(buildPayXml(fields, 'crlf')).toBe(
      '<xml><appid><![CDATA[wx1]]></appid>\r\n<total_fee>1</total_fee>\r\n</xml>',
    );
    expect(buildPayXml(fields, 'indented')).toBe(
      '<xml>\n  <appid><![CDATA[wx1]]></appid>\n  <total_fee>1</total_fee>\n</xml>',
    );
    expect(buildPayXml(fields)).toBe('<xml><appid>wx1</appid><total_fee>1</total_fee></xml>');
  });

  it('when a value holds ]]>, then the CDATA section is split around it instead of ending early', () => {
    const xml = buildPayXml({ a: 'x]]>y' }, 'newline');
    expect(xml).toBe('<xml><a><![CDATA[x]]]]><![CDATA[>y]]></a>\n</xml>');
    // A second field after it proves the document did not end at the first ]]>.
    expect(parsePayXml(buildPayXml({ a: ']]><b>1</b><![CDATA[', b: '2' }, 'newline'))).toEqual({
      a: ']]><b>1</b><![CDATA[',
      b: '2',
    });
  });
});

describe('parsePayXml: references and line ends, as an XML parser (and WeChat) reads them', () => {
  it('when a value holds numeric character references, then they are decoded, decimal and hex, astral included', () => {
    expect(parsePayXml('<xml><body>&#20013;&#x6587;&#x1F431;</body><b>&#60;&#38;&#62;</b></xml>')).toEqual({
      body: '中文🐱',
      b: '<&>',
    });
  });

  it('when a reference is escaped (&amp;#20013;) or sits in CDATA, then it stays the literal text', () => {
    expect(parsePayXml('<xml><a>&amp;#20013;</a><b><![CDATA[&#20013;&nbsp;&#0;]]></b></xml>')).toEqual({
      a: '&#20013;',
      b: '&#20013;&nbsp;&#0;',
    });
  });

  it("when XML's five named entities are used, then they decode", () => {
    expect(parsePayXml('<xml><a>&lt;&amp;&gt;&quot;&apos;</a></xml>')).toEqual({ a: '<&>"\'' });
  });

  it.each([
    ['an HTML entity', '<xml><a>&nbsp;</a></xml>'],
    ['an undeclared entity', '<xml><a>&win;</a></xml>'],
    ['a reference to NUL', '<xml><a>&#0;</a></xml>'],
    ['a reference to a C0 control', '<xml><a>&#x1;</a></xml>'],
    ['a reference to a surrogate', '<xml><a>&#xD800;</a></xml>'],
    ['a reference to U+FFFF', '<xml><a>&#xFFFF;</a></xml>'],
    ['a reference past U+10FFFF', '<xml><a>&#x110000;</a></xml>'],
    ['a bare ampersand', '<xml><a>a & b</a></xml>'],
  ])('when a value holds %s, then the message is refused as MALFORMED, as an XML parser refuses it', (_name, text) => {
    expect(refusal(text)).toBe('MALFORMED');
  });

  it('when a value holds CRLF or a lone CR, in text or in CDATA, then each reads as LF (XML 1.0 §2.11)', () => {
    expect(parsePayXml('<xml><a>1\r\n2\r3</a>\r\n<b><![CDATA[x\r\ny\rz]]></b></xml>')).toEqual({
      a: '1\n2\n3',
      b: 'x\ny\nz',
    });
  });

  it('when a CR is written as &#13;, then it is kept: references are expanded after line ends are read', () => {
    expect(parsePayXml('<xml><a>x&#13;&#10;y</a></xml>')).toEqual({ a: 'x\r\ny' });
  });

  it('when text and CDATA alternate inside one value, then they join in order', () => {
    expect(parsePayXml('<xml><a>p<![CDATA[<q>]]>&#13;r</a></xml>')).toEqual({ a: 'p<q>\rr' });
  });

  it('when a comment sits between fields or an end tag has a space before >, then the fields are the same', () => {
    expect(parsePayXml('<xml><a>1</a ><!-- note -->\n<b>2</b></xml>')).toEqual({ a: '1', b: '2' });
  });
});

import { XMLParser, XMLValidator } from 'fast-xml-parser';

/**
 * WeChat Pay v2 speaks flat XML: <xml><key>value</key>…</xml>. fast-xml-parser's defaults are unsafe for money
 * (it turns "0100" into 100 and expands DOCTYPE entities), so: DOCTYPE/ENTITY are refused outright, the text is
 * validated, and every value stays the exact string that was sent.
 */
export class PayXmlError extends Error {
  constructor(
    readonly reason: 'MALFORMED' | 'DOCTYPE' | 'NOT_FLAT',
    message: string,
  ) {
    super(message);
    this.name = 'PayXmlError';
  }
}

/** XML's five predefined entities: the only named ones a document without a DTD may use. */
const XML_ENTITIES = new Set(['amp', 'apos', 'gt', 'lt', 'quot']);

const parserOptions = {
  ignoreAttributes: true,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  htmlEntities: false,
  trimValues: false,
  ignoreDeclaration: true,
};
const parser = new XMLParser(parserOptions);
/**
 * For messages with numeric character references (&#20013; is 中): every XML parser decodes them, and
 * fast-xml-parser does only with htmlEntities on. That also turns on HTML's named entities, which findBadReference
 * has refused by then, and costs a third more per message, so only messages that need it take this parser.
 */
const charRefParser = new XMLParser({ ...parserOptions, htmlEntities: true });

/**
 * `root` is the root element's name: every v2 message is <xml>, but the refund notify's decrypted req_info is <root>.
 */
export function parsePayXml(input: string, root = 'xml'): Record<string, string> {
  // A BOM in front is an encoding mark, not content; the validator would call it text before the root.
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new PayXmlError('DOCTYPE', 'DOCTYPE and ENTITY declarations are refused');
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new PayXmlError('MALFORMED', `malformed XML: ${valid.err.msg}`);
  const refs = readReferences(text);
  if (refs.bad)
    throw new PayXmlError(
      'MALFORMED',
      `malformed XML: ${refs.bad} is not a character XML allows or an entity it defines`,
    );
  let doc: Record<string, unknown>;
  try {
    doc = (refs.numeric ? charRefParser : parser).parse(text) as Record<string, unknown>;
  } catch (err) {
    // The parser throws plain Errors for some names (e.g. a <constructor> tag); every refusal is ours to classify.
    throw new PayXmlError('MALFORMED', `malformed XML: ${(err as Error).message}`);
  }
  if (doc[root] === undefined) throw new PayXmlError('MALFORMED', `root element must be <${root}>`);
  // The validator lets a second root through (<xml>…</xml><foo/>) and the parser keeps a processing instruction
  // as a key starting with '?': neither is a WeChat message, and neither may ride along unseen.
  for (const key of Object.keys(doc)) {
    if (key !== root)
      throw new PayXmlError(
        'MALFORMED',
        key.startsWith('?') ? 'processing instructions are refused' : 'a message has exactly one root element',
      );
  }
  // A root with no element in it (<xml></xml>, or only line breaks) comes back as its bare text: judged as any text is.
  const body = typeof doc[root] === 'string' ? { [TEXT_NODE]: doc[root] } : doc[root];
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new PayXmlError('NOT_FLAT', 'root element must hold fields');
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) {
    // With trimValues off, the text between elements collects here. WeChat's notifies put a newline between fields
    // and its samples indent them: that is layout, never a field, and it must never reach the sign check.
    if (key === TEXT_NODE) {
      if (isLayout(value)) continue;
      throw new PayXmlError('MALFORMED', 'text outside the fields');
    }
    if (key.startsWith('?')) throw new PayXmlError('MALFORMED', 'processing instructions are refused');
    if (typeof value !== 'string') throw new PayXmlError('NOT_FLAT', `field ${key} is not a single text value`);
    out[key] = value;
  }
  return out;
}

/** fast-xml-parser's name for an element's own text (its `textNodeName` default). */
const TEXT_NODE = '#text';
/**
 * XML's whitespace: space, tab, LF and CR. Line ends read as LF everywhere, values and CDATA included (XML 1.0
 * §2.11, as WeChat's own parser and every SDK's read them; the parser does it before anything else), so a CR
 * survives only as the reference &#13;.
 */
const isLayout = (value: unknown) => typeof value === 'string' && /^[ \t\r\n]*$/.test(value);

/**
 * The message's references, outside CDATA (text there is not markup). `bad` is the first one an XML parser refuses:
 * a named entity other than XML's five (no DTD may declare one), or a character reference to a code point that is no
 * XML Char (NUL, C0 controls, surrogates, U+FFFE/U+FFFF). `numeric` says whether any character reference is there.
 */
function readReferences(text: string): { bad?: string; numeric: boolean } {
  if (!text.includes('&')) return { numeric: false };
  const outsideCdata = text.replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, '');
  let numeric = false;
  for (const [ref, body] of outsideCdata.matchAll(/&([^;&\s<]*);/g)) {
    const num = /^#(?:x([0-9A-Fa-f]+)|([0-9]+))$/.exec(body);
    if (!num) {
      if (!XML_ENTITIES.has(body)) return { bad: ref, numeric };
      continue;
    }
    numeric = true;
    const cp = num[1] !== undefined ? Number.parseInt(num[1], 16) : Number.parseInt(num[2], 10);
    const isChar =
      cp === 0x9 ||
      cp === 0xa ||
      cp === 0xd ||
      (cp >= 0x20 && cp <= 0xd7ff) ||
      (cp >= 0xe000 && cp <= 0xfffd) ||
      (cp >= 0x10000 && cp <= 0x10ffff);
    if (!isChar) return { bad: ref, numeric };
  }
  return { numeric };
}

/**
 * How a message is laid out. The wire meaning is the same for all: whitespace between elements is layout.
 * - compact: `<xml><a>v</a><b>1</b></xml>`, text entity-escaped (what our client sends).
 * - newline: WeChat's own: `<xml><appid><![CDATA[wx…]]></appid>\n<total_fee>1</total_fee>\n</xml>`,
 *   strings in CDATA, numbers bare.
 * - crlf: the same with CRLF line ends.
 * - indented: WeChat's documented samples: each field on its own line, indented.
 */
export type PayXmlLayout = 'compact' | 'newline' | 'crlf' | 'indented';

export const PAY_XML_LAYOUTS: readonly PayXmlLayout[] = ['compact', 'newline', 'crlf', 'indented'];

/**
 * Builds <xml>…</xml> (or another `root`, as parsePayXml reads it) in the given layout. Empty and undefined fields are
 * left out (they are not signed either). Every value reads back exactly: `<`, `&`, `]]>`, CR and emoji included.
 */
export function buildPayXml(
  fields: Record<string, string | number | undefined>,
  layout: PayXmlLayout = 'compact',
  root = 'xml',
): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined || v === '') continue;
    const text = typeof v === 'number' || layout === 'compact' ? escapeText(String(v)) : cdata(v);
    parts.push(`<${k}>${text}</${k}>`);
  }
  switch (layout) {
    case 'compact':
      return `<${root}>${parts.join('')}</${root}>`;
    case 'newline':
      return `<${root}>${parts.join('\n')}\n</${root}>`;
    case 'crlf':
      return `<${root}>${parts.join('\r\n')}\r\n</${root}>`;
    case 'indented':
      return `<${root}>\n${parts.map((p) => `  ${p}\n`).join('')}</${root}>`;
  }
}

/** A CR is written as a reference: a literal one would read back as LF. */
function escapeText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
}

/** CDATA cannot hold `]]>` or keep a CR, so those close the section, go as markup, and open a new one. */
function cdata(value: string): string {
  return `<![CDATA[${value.replace(/]]>/g, ']]]]><![CDATA[>').replace(/\r/g, ']]>&#13;<![CDATA[')}]]>`;
}

/** The two answers a notify endpoint gives, exactly as WeChat documents them. */
export const NOTIFY_SUCCESS =
  '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';
export function notifyFail(message: string): string {
  return `<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[${message.replace(/]]>/g, ']]]]><![CDATA[>')}]]></return_msg></xml>`;
}

import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';

/**
 * WeChat Pay v2 speaks flat XML: <xml><key>value</key>…</xml>. fast-xml-parser's defaults are unsafe for money
 * (it turns "0100" into 100 and expands DOCTYPE entities), so: DOCTYPE/ENTITY are refused outright, the text is
 * validated, and every value stays the exact string that was sent.
 */
export class PayXmlError extends Error {
  constructor(readonly reason: 'MALFORMED' | 'DOCTYPE' | 'NOT_FLAT', message: string) {
    super(message);
    this.name = 'PayXmlError';
  }
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  htmlEntities: false,
  trimValues: false,
  ignoreDeclaration: true,
});

const builder = new XMLBuilder({ format: false, processEntities: true, suppressEmptyNode: false });

export function parsePayXml(input: string): Record<string, string> {
  // A BOM in front is an encoding mark, not content; the validator would call it text before the root.
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new PayXmlError('DOCTYPE', 'DOCTYPE and ENTITY declarations are refused');
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new PayXmlError('MALFORMED', `malformed XML: ${valid.err.msg}`);
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(text) as Record<string, unknown>;
  } catch (err) {
    // The parser throws plain Errors for some names (e.g. a <constructor> tag); every refusal is ours to classify.
    throw new PayXmlError('MALFORMED', `malformed XML: ${(err as Error).message}`);
  }
  const root = doc.xml;
  if (root === undefined) throw new PayXmlError('MALFORMED', 'root element must be <xml>');
  // <xml></xml>, or <xml> holding only line breaks: no fields.
  if (typeof root === 'string') {
    if (isLayout(root)) return {};
    throw new PayXmlError('MALFORMED', 'text outside the fields');
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw new PayXmlError('NOT_FLAT', 'root element must hold fields');
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(root)) {
    // With trimValues off, the text between elements collects here. WeChat's notifies put a newline between fields
    // and its samples indent them: that is layout, never a field, and it must never reach the sign check.
    if (key === TEXT_NODE) {
      if (isLayout(value)) continue;
      throw new PayXmlError('MALFORMED', 'text outside the fields');
    }
    if (typeof value !== 'string') throw new PayXmlError('NOT_FLAT', `field ${key} is not a single text value`);
    out[key] = value;
  }
  return out;
}

/** fast-xml-parser's name for an element's own text (its `textNodeName` default). */
const TEXT_NODE = '#text';
/** XML's whitespace: space, tab, LF and CR (CRLF already reads as LF: XML 1.0 §2.11 line-end handling). */
const isLayout = (value: unknown) => typeof value === 'string' && /^[ \t\r\n]*$/.test(value);

/** Builds <xml>…</xml>; text is entity-escaped, so `<`, `&` and emoji in a body are safe. */
export function buildPayXml(fields: Record<string, string | number | undefined>): string {
  const clean: Record<string, string> = {};
  for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== '') clean[k] = String(v);
  return builder.build({ xml: clean }) as string;
}

/** The two answers a notify endpoint gives, exactly as WeChat documents them. */
export const NOTIFY_SUCCESS = '<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>';
export function notifyFail(message: string): string {
  return `<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[${message.replace(/]]>/g, ']]]]><![CDATA[>')}]]></return_msg></xml>`;
}

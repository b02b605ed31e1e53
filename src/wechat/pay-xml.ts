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

export function parsePayXml(text: string): Record<string, string> {
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
  if (root === '' || root === undefined) {
    if (root === '') return {};
    throw new PayXmlError('MALFORMED', 'root element must be <xml>');
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) throw new PayXmlError('NOT_FLAT', 'root element must hold fields');
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(root)) {
    if (typeof value !== 'string') throw new PayXmlError('NOT_FLAT', `field ${key} is not a single text value`);
    out[key] = value;
  }
  return out;
}

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

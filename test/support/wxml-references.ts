/**
 * What a WXML template asks of its page: the handlers its bind/catch attributes name, and the data roots its
 * `{{ }}` expressions read. WeChat renders a missing root as nothing and drops an event whose handler is missing
 * (with only a console warning), so neither fails on a phone: this is where they fail.
 */

export interface WxmlReferences {
  handlers: string[];
  roots: string[];
}

/** bindtap, bind:tap, catchtap, catch:tap, capture-bind:…, capture-catch:…, mut-bind:… */
const BINDING = /\s(?:bind|catch|capture-bind|capture-catch|mut-bind):?[a-z]+\s*=\s*"([^"]*)"/g;
const MUSTACHE = /{{([\s\S]*?)}}/g;
const STRING = /'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g;
/** An identifier not after a dot (a member) and not before a colon outside a ternary (an object key). */
const IDENTIFIER = /(?<![.\w$])[A-Za-z_$][\w$]*/g;
const LITERALS = new Set(['true', 'false', 'null', 'undefined']);

export function wxmlReferences(wxml: string): WxmlReferences {
  const handlers = new Set<string>();
  for (const [, name] of wxml.matchAll(BINDING)) {
    // A handler may itself be an expression ("{{ready ? 'onTap' : ''}}"); its roots are counted below.
    if (!name.includes('{{')) handlers.add(name.trim());
  }
  // wx:for binds item and index (or the names wx:for-item / wx:for-index give) inside its element.
  const scoped = new Set<string>();
  if (/\swx:for\s*=/.test(wxml)) {
    scoped.add('item').add('index');
    for (const [, name] of wxml.matchAll(/\swx:for-(?:item|index)\s*=\s*"([^"]+)"/g)) scoped.add(name.trim());
  }
  const roots = new Set<string>();
  for (const [, expression] of wxml.matchAll(MUSTACHE)) {
    const code = expression.replace(STRING, '""');
    for (const m of code.matchAll(IDENTIFIER)) {
      const name = m[0];
      const after = code.slice(m.index + name.length);
      const isKey = /^\s*:/.test(after) && !code.slice(0, m.index).includes('?');
      if (!LITERALS.has(name) && !scoped.has(name) && !isKey) roots.add(name);
    }
  }
  return { handlers: [...handlers].sort(), roots: [...roots].sort() };
}

/** What the template references that the page lacks: handlers that are not methods, roots not in its data. */
export function missingFromPage(wxml: string, page: Record<string, unknown>): string[] {
  const { handlers, roots } = wxmlReferences(wxml);
  const data = (page.data ?? {}) as Record<string, unknown>;
  return [
    ...handlers.filter((h) => typeof page[h] !== 'function').map((h) => `handler ${h}`),
    ...roots.filter((r) => !(r in data)).map((r) => `{{ ${r} }}`),
  ];
}

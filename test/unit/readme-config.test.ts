import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// README's config table is the user's list of settings; config.ts's env schema is what the server reads.
// Both are read as text, so a setting added to one and not the other fails here.
const root = join(__dirname, '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** The top-level keys of `const envSchema = z.object({ … })`, found by bracket depth, not by layout. */
export function envSchemaKeys(source: string): string[] {
  const start = /const\s+envSchema\s*=\s*z\s*\.\s*object\s*\(\s*\{/.exec(source);
  if (!start) throw new Error('src/core/config.ts: no `const envSchema = z.object({` found');
  const keys: string[] = [];
  let depth = 1;
  let prev = '{'; // the last character outside comments and whitespace
  let i = start.index + start[0].length;
  while (i < source.length && depth > 0) {
    const c = source[i];
    const key = /^(?:([A-Z][A-Z0-9_]*)|'([A-Z][A-Z0-9_]*)'|"([A-Z][A-Z0-9_]*)")\s*:/.exec(source.slice(i, i + 80));
    if (depth === 1 && key && (prev === '{' || prev === ',')) {
      keys.push(key[1] ?? key[2] ?? key[3]);
      i += key[0].length;
      prev = ':';
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '/' && source[i + 1] === '/') {
      i = source.indexOf('\n', i);
      if (i < 0) break;
      continue;
    }
    if (c === '/' && source[i + 1] === '*') {
      i = source.indexOf('*/', i) + 2;
      continue;
    }
    if (c === "'" || c === '"' || c === '`' || (c === '/' && /[(,=:[!&|?{};]/.test(prev))) {
      // A string or a regex literal: skip to its unescaped end (a regex's slash inside a class does not end it).
      let inClass = false;
      for (i++; i < source.length && (inClass || source[i] !== c); i++) {
        if (source[i] === '\\') i++;
        else if (c === '/' && source[i] === '[') inClass = true;
        else if (c === '/' && source[i] === ']') inClass = false;
      }
    } else if ('([{'.includes(c)) {
      depth++;
    } else if (')]}'.includes(c)) {
      depth--;
    }
    prev = c;
    i++;
  }
  return keys;
}

/** The variables named in the first column of the table under README's "## Configuration" heading. */
export function readmeConfigVariables(readme: string): string[] {
  const section = /^## Configuration\s*$([\s\S]*?)(?=^## )/m.exec(readme)?.[1];
  if (!section) throw new Error('README.md: no "## Configuration" section');
  return section
    .split('\n')
    .map((line) => /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);
}

describe("README's config table", () => {
  const schemaKeys = envSchemaKeys(read('src/core/config.ts'));
  const tableKeys = readmeConfigVariables(read('README.md'));

  it('when config.ts is parsed, then its env schema yields the settings the server is known to read', () => {
    // Guards the parser itself: these have been settings since the first release.
    expect(schemaKeys).toEqual(expect.arrayContaining(['PORT', 'DATABASE_URL', 'WECHAT_APPID', 'SHUTDOWN_TIMEOUT_MS']));
    expect(new Set(schemaKeys).size).toBe(schemaKeys.length);
  });

  it('when a setting is in the env schema, then the table has a row for it', () => {
    expect(schemaKeys.filter((k) => !tableKeys.includes(k))).toEqual([]);
  });

  it('when the table names a variable, then the env schema reads it, and only one row names it', () => {
    expect(tableKeys.filter((k) => !schemaKeys.includes(k))).toEqual([]);
    expect(tableKeys.filter((k, i) => tableKeys.indexOf(k) !== i)).toEqual([]);
  });
});

describe('the parsers, on text written to trip them', () => {
  it('when keys are quoted, nested, commented or inside strings, then only the top-level keys are found', () => {
    const source = String.raw`
      const other = z.object({ NOT_THIS: z.string() });
      const envSchema = z.object({
        PORT: int(4000, 0, 65535), // NOT_A_KEY: in a comment
        'QUOTED_KEY': z.string().regex(/^[a-z/]{1,3}$/, 'NOT_A_KEY: in a string, with a } brace'),
        "REGEX_KEY": z.string().regex(/^[^'"(]+\/\/$/).refine((v) => v.length / 2 > 1, "it's a string"),
        NESTED: z.object({ INNER_KEY: z.string() }).optional(),
        /* BLOCK_COMMENT: z.string(), */
        LAST_KEY: z.enum(['A', 'B']).default('A')
      });
      const after = { NOT_AFTER: 1 };`;
    expect(envSchemaKeys(source)).toEqual(['PORT', 'QUOTED_KEY', 'REGEX_KEY', 'NESTED', 'LAST_KEY']);
  });

  it('when README has tables in other sections, then only the Configuration table counts', () => {
    const readme = [
      '## Quick start',
      '| `NOT_CONFIG` | x | y |',
      '## Configuration',
      '| Variable | Default | Meaning |',
      '|---|---|---|',
      '| `PORT` | `4000` | The port; see `HOST`. |',
      '| `HOST` | — | Listen address. |',
      '## API',
      '| `BAD_USER_INPUT` | When | What |',
      '',
    ].join('\n');
    expect(readmeConfigVariables(readme)).toEqual(['PORT', 'HOST']);
  });
});

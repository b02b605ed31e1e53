import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { markServicesSuite } from '../support/server';
import { onServices } from '../support/target';

// Codegen reads files only: it runs alike on both projects,
// and is marked as run on the services one for .ci/run's every-suite check.
beforeAll(() => {
  if (onServices) markServicesSuite();
});

const root = join(__dirname, '..', '..');

/**
 * Runs codegen.yml in memory (nothing is written), in a child process: @graphql-codegen/cli loads ESM-only
 * dependencies that jest's CommonJS runtime cannot require.
 */
function generateInMemory(): { filename: string; content: string }[] {
  const script = `
    import { generate, loadContext } from '@graphql-codegen/cli';
    const context = await loadContext('codegen.yml');
    const outputs = await generate(context, false);
    process.stdout.write(JSON.stringify(outputs.map(({ filename, content }) => ({ filename, content }))));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out) as { filename: string; content: string }[];
}

describe('miniprogram/gql (codegen.yml)', () => {
  let outputs: { filename: string; content: string }[];
  beforeAll(() => {
    outputs = generateInMemory();
  });

  it('when the client is generated from schema.graphql and miniprogram/graphql, then it equals the committed files (run `npm run codegen` after a change)', () => {
    const gqlDir = join(root, 'miniprogram', 'gql');
    const committed = readdirSync(gqlDir).map((f) => relative(root, join(gqlDir, f)).split('\\').join('/'));
    expect(outputs.map((o) => o.filename).sort()).toEqual(committed.sort());
    for (const { filename, content } of outputs) {
      expect({ filename, content: readFileSync(join(root, filename), 'utf8') }).toEqual({ filename, content });
    }
  });

  it('when the generated client is read, then it brings no runtime: graphql-js and other packages are imported for types only', () => {
    for (const { filename, content } of outputs) {
      for (const m of content.matchAll(/^\s*(?:import|export)\b[^;]*?\sfrom\s+['"]([^'"]+)['"]/gm)) {
        if (m[1].startsWith('./')) continue;
        expect({ filename, statement: m[0].trim(), typeOnly: /^\s*import type\b/.test(m[0]) }).toEqual({
          filename,
          statement: m[0].trim(),
          typeOnly: true,
        });
      }
      expect(content).not.toMatch(/\brequire\(/);
    }
  });
});

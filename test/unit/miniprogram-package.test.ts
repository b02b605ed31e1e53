import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = join(__dirname, '..', '..', 'miniprogram');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const json = <T>(path: string) => JSON.parse(read(path)) as T;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [relative(ROOT, path).split('\\').join('/')];
  });
}

const files = walk(ROOT);
const project = json<{
  compileType: string;
  miniprogramRoot: string;
  appid: string;
  setting: { useCompilerPlugins: string[] };
  packOptions: { ignore: { type: string; value: string }[] };
}>('project.config.json');
const app = json<{ pages: string[] }>('app.json');

/** The files WeChat DevTools uploads: everything but packOptions.ignore. */
const shipped = files.filter(
  (f) =>
    !project.packOptions.ignore.some(
      (rule) =>
        (rule.type === 'folder' && f.startsWith(`${rule.value}/`)) ||
        (rule.type === 'file' && f === rule.value) ||
        (rule.type === 'suffix' && f.endsWith(rule.value)),
    ),
);

describe('miniprogram/ as a WeChat DevTools project', () => {
  it('when DevTools opens miniprogram/, then project.config.json names a TypeScript mini-program rooted there', () => {
    expect(project).toMatchObject({
      compileType: 'miniprogram',
      miniprogramRoot: './',
      appid: expect.any(String) as unknown,
    });
    expect(project.setting.useCompilerPlugins).toContain('typescript');
    expect(files).toEqual(expect.arrayContaining(['app.json', 'app.ts', 'app.wxss', 'sitemap.json', 'tsconfig.json']));
  });

  it('when app.json lists a page, then the page has its ts, wxml, wxss and json', () => {
    expect(app.pages).toEqual(['pages/login/login', 'pages/profile/profile', 'pages/pay/pay']);
    for (const page of app.pages)
      for (const ext of ['ts', 'wxml', 'wxss', 'json']) expect(files).toContain(`${page}.${ext}`);
  });

  it('when a page’s wxml binds an event, then its ts has that handler', () => {
    for (const page of app.pages) {
      const handlers = [...read(`${page}.wxml`).matchAll(/\b(?:bind|catch)[a-z]+="([A-Za-z_]\w*)"/g)].map((m) => m[1]);
      expect(handlers.length).toBeGreaterThan(0);
      const ts = read(`${page}.ts`);
      for (const handler of handlers)
        expect({ page, handler, defined: new RegExp(`^\\s*(async\\s+)?${handler}\\s*\\(`, 'm').test(ts) }).toEqual({
          page,
          handler,
          defined: true,
        });
    }
  });

  it('when the mini-program’s code imports, then it is its own files, or a package for types only (no npm runtime, no graphql-js)', () => {
    for (const file of files.filter((f) => f.endsWith('.ts'))) {
      for (const m of read(file).matchAll(/^\s*(?:import|export)\b[^;]*?\sfrom\s+['"]([^'"]+)['"]/gm)) {
        const [statement, from] = [m[0].trim(), m[1]];
        if (from.startsWith('.')) {
          const target = resolve(dirname(join(ROOT, file)), from);
          expect({
            file,
            from,
            inside: !relative(ROOT, target).startsWith('..'),
            exists: existsSync(`${target}.ts`),
          }).toEqual({ file, from, inside: true, exists: true });
        } else {
          expect({ file, statement, typeOnly: /^import type\b/.test(statement) }).toEqual({
            file,
            statement,
            typeOnly: true,
          });
        }
      }
    }
  });

  it('when the package is uploaded, then it is far below WeChat’s 2 MB limit and carries no .graphql sources', () => {
    const bytes = shipped.reduce((sum, f) => sum + statSync(join(ROOT, f)).size, 0);
    expect(bytes).toBeLessThan(2 * 1024 * 1024);
    expect(shipped.filter((f) => f.endsWith('.graphql') || f === 'tsconfig.json')).toEqual([]);
  });
});

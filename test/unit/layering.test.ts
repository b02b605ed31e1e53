import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const src = join(__dirname, '..', '..', 'src');
const importsOf = (file: string) =>
  [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)\b[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]);

describe('layering', () => {
  it('core/ is a leaf: it imports only itself and packages, never a feature or the composition root', () => {
    const files = readdirSync(join(src, 'core')).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(5);
    const outside = files.flatMap((f) =>
      importsOf(join(src, 'core', f))
        .filter((spec) => spec.startsWith('.') && !spec.startsWith('./'))
        .map((spec) => `${f} imports ${spec}`),
    );
    expect(outside).toEqual([]);
  });

  // cli/ and demo/ run the app, so they may; a feature that did would pull in every other feature.
  it('features never import the composition root except its context type', () => {
    const features = readdirSync(src, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !['core', 'server', 'cli', 'demo', 'migrations'].includes(d.name))
      .map((d) => d.name);
    expect(features).toEqual(expect.arrayContaining(['auth', 'payment', 'profile', 'wechat']));
    const offending = features.flatMap((dir) =>
      readdirSync(join(src, dir))
        .filter((f) => f.endsWith('.ts'))
        .flatMap((f) =>
          importsOf(join(src, dir, f))
            .filter((spec) => spec.startsWith('.') && /^\.\.\/(server\/(?!context$)|app$)/.test(spec))
            .map((spec) => `${dir}/${f} imports ${spec}`),
        ),
    );
    expect(offending).toEqual([]);
  });
});

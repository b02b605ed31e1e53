import { runDemo } from '../../src/demo/demo';
import { markServicesSuite } from '../support/server';
import { onServices } from '../support/target';

// The demo is hermetic (its own embedded database and store, whatever the project): it runs alike on both projects,
// and is marked as run on the services one for .ci/run's every-suite check.
beforeAll(() => {
  if (onServices) markServicesSuite();
});

describe('npm run demo', () => {
  it('when the demo walks login → profile → pay → notify → PAID on the embedded defaults, then every step checks out', async () => {
    const lines: string[] = [];
    expect(await runDemo((l) => lines.push(l))).toBe(true);
    const text = lines.join('\n');
    expect(text).not.toContain('✗');
    expect(text).toContain('nickname "小程序开发者🐱👍"');
    expect(text).toMatch(/notify answered SUCCESS/);
    expect(text).toMatch(/PAID at \d{4}-/);
  });
});

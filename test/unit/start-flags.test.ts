import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseStartFlags, startFlagsOf } from '../../bench/lib/start-flags';

const root = join(__dirname, '..', '..');
const startFlags = () => startFlagsOf(readFileSync(join(root, 'package.json'), 'utf8'));

describe('how the server is started', () => {
  it('when the Docker image starts the server, then it runs the same command as npm start, node flags included', () => {
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'));
    expect(cmd).not.toBeNull();
    expect(JSON.parse(cmd![1])).toEqual(['node', ...startFlags(), 'dist/main.js']);
  });
});

describe('parseStartFlags', () => {
  it('when the start script is node with flags before dist/main.js, then it returns those flags in order', () => {
    expect(parseStartFlags('node --max-semi-space-size=8 --heap-growing-percent=50 dist/main.js')).toEqual([
      '--max-semi-space-size=8',
      '--heap-growing-percent=50',
    ]);
    expect(parseStartFlags('node dist/main.js')).toEqual([]);
  });

  it('when the start script has any other form, then it refuses it instead of guessing', () => {
    expect(() => parseStartFlags('MALLOC_ARENA_MAX=2 node dist/main.js')).toThrow(
      /not "node \[--flags\] dist\/main.js"/,
    );
    expect(() => parseStartFlags('node dist/main.js --port=1')).toThrow();
    expect(() => parseStartFlags('tsx src/main.ts')).toThrow();
  });
});

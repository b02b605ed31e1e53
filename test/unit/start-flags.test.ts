import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/** The node flags before dist/main.js in package.json's start script. */
function startFlags(): string[] {
  const start = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const match = /^node((?:\s+--[\w-]+(?:=\S+)?)*)\s+dist\/main\.js$/.exec(start.trim());
  expect(match).not.toBeNull();
  return match![1].split(/\s+/).filter(Boolean);
}

describe('how the server is started', () => {
  it('when the Docker image starts the server, then it runs the same command as npm start, node flags included', () => {
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'));
    expect(cmd).not.toBeNull();
    expect(JSON.parse(cmd![1])).toEqual(['node', ...startFlags(), 'dist/main.js']);
  });
});

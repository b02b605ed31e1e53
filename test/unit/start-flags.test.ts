import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseStartFlags } from '../../bench/lib/start-flags';

const root = join(__dirname, '..', '..');
const startFlags = () => parseStartFlags((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start);

describe('how the server is started', () => {
  it('when the Docker image starts the server, then it runs the same command as npm start, node flags included', () => {
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'));
    expect(cmd).not.toBeNull();
    expect(JSON.parse(cmd![1])).toEqual(['node', ...startFlags(), 'dist/main.js']);
  });
});

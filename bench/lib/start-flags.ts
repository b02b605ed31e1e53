/**
 * The node flags of a `start` script of the form `node [--flag[=value] …] dist/main.js`, or an error for any other
 * form. Shared by the bench and the test suites that start the built server (both start it as `npm start` does) and
 * by the test that keeps the Dockerfile's CMD equal to it; plain TypeScript with no import.meta, so jest can load it too.
 */
export function parseStartFlags(start: string): string[] {
  const match = /^node((?:\s+--[\w-]+(?:=\S+)?)*)\s+dist\/main\.js$/.exec(start.trim());
  if (!match) throw new Error(`package.json's start script is not "node [--flags] dist/main.js": ${start}`);
  return match[1].split(/\s+/).filter(Boolean);
}

/** The node flags of the `start` script in a package.json's text. */
export function startFlagsOf(packageJson: string): string[] {
  return parseStartFlags((JSON.parse(packageJson) as { scripts?: { start?: string } }).scripts?.start ?? '');
}

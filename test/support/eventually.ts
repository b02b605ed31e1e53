/** Polls `check` every 100 ms until it is true or `ms` have passed; a check that throws counts as false. */
export async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check().catch(() => false)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

/** `run`'s result and how long it took to settle. */
export async function timed<T>(run: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = Date.now();
  const result = await run();
  return { result, ms: Date.now() - start };
}

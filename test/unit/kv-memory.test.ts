import { createMemoryKeyValueStore } from '../../src/core/kv-memory';

// The embedded default's semantics, on a clock the test moves: what kv-redis.ts gets from Redis itself.
function store() {
  let t = 1_000_000;
  const kv = createMemoryKeyValueStore({ now: () => t });
  return { kv, ops: kv.for('test'), advance: (ms: number) => (t += ms) };
}

describe('in-process key-value store', () => {
  it('when a value is set with a TTL, then it is read back until the TTL runs out, and not after', async () => {
    const { ops, advance } = store();
    await ops.set('a', { n: 1, s: 'x' }, 1000);
    expect(await ops.get('a')).toEqual({ n: 1, s: 'x' });
    advance(999);
    expect(await ops.get('a')).toEqual({ n: 1, s: 'x' });
    advance(1);
    expect(await ops.get('a')).toBeUndefined();
  });

  it('when a stored object is changed by its caller, then the stored value is not (it is kept as JSON, as in Redis)', async () => {
    const { ops } = store();
    const value = { list: [1] };
    await ops.set('a', value, 1000);
    value.list.push(2);
    const read = await ops.get<{ list: number[] }>('a');
    expect(read).toEqual({ list: [1] });
    read!.list.push(3);
    expect(await ops.get('a')).toEqual({ list: [1] });
  });

  it('when a value is deleted or set again, then the old one is gone and the new TTL applies', async () => {
    const { ops, advance } = store();
    await ops.set('a', 1, 1000);
    await ops.delete('a');
    expect(await ops.get('a')).toBeUndefined();
    await ops.set('b', 1, 100);
    await ops.set('b', 2, 5000);
    advance(1000);
    expect(await ops.get('b')).toBe(2);
    await ops.delete('never-set');
  });

  it('when a value is set if absent, then the first one stays until its TTL and later ones get it back', async () => {
    const { ops, advance } = store();
    expect(await ops.setIfAbsent('n', { h: 'first' }, 1000)).toBeUndefined();
    expect(await ops.setIfAbsent('n', { h: 'second' }, 1000)).toEqual({ h: 'first' });
    expect(await ops.get('n')).toEqual({ h: 'first' });
    advance(1000);
    expect(await ops.setIfAbsent('n', { h: 'third' }, 1000)).toBeUndefined();
    expect(await ops.get('n')).toEqual({ h: 'third' });
  });

  it('when a counter is hit, then it counts within its window from the first hit and starts again after it', async () => {
    const { ops, advance } = store();
    expect(await ops.increment('c', 1000)).toEqual({ count: 1, resetInMs: 1000 });
    advance(400);
    expect(await ops.increment('c', 1000)).toEqual({ count: 2, resetInMs: 600 });
    expect(await ops.increment('c', 1000, 3)).toEqual({ count: 5, resetInMs: 600 });
    advance(600);
    expect(await ops.increment('c', 1000)).toEqual({ count: 1, resetInMs: 1000 });
  });

  it('when a hit is handed back, then it is taken from a running window only: after the window it leaves nothing', async () => {
    const { ops, advance } = store();
    await ops.increment('c', 1000);
    await ops.increment('c', 1000);
    expect(await ops.increment('c', 1000, -1)).toEqual({ count: 1, resetInMs: 1000 });
    advance(1000);
    expect(await ops.increment('c', 1000, -1)).toEqual({ count: 0, resetInMs: 0 });
    // No window was opened by the late hand-back: the next hit opens a fresh one.
    advance(500);
    expect(await ops.increment('c', 1000)).toEqual({ count: 1, resetInMs: 1000 });
  });

  it('when a lock is held, then nobody else gets it, and a release with another token neither succeeds nor frees it', async () => {
    const { ops } = store();
    const token = await ops.acquire('l', 1000);
    expect(token).toEqual(expect.any(String));
    expect(await ops.acquire('l', 1000)).toBeUndefined();
    expect(await ops.release('l', 'not-the-token')).toBe(false);
    expect(await ops.acquire('l', 1000)).toBeUndefined();
    expect(await ops.release('l', token!)).toBe(true);
    // Released once: a second release by the same holder has nothing left to free.
    expect(await ops.release('l', token!)).toBe(false);
    const next = await ops.acquire('l', 1000);
    expect(next).toEqual(expect.any(String));
    expect(next).not.toBe(token);
  });

  it('when a lock outlives its TTL, then another holder takes it and the first holder release leaves the new lock alone', async () => {
    const { ops, advance } = store();
    const first = await ops.acquire('l', 1000);
    advance(1000);
    const second = await ops.acquire('l', 1000);
    expect(second).toEqual(expect.any(String));
    expect(await ops.release('l', first!)).toBe(false);
    expect(await ops.acquire('l', 1000)).toBeUndefined();
    expect(await ops.release('l', second!)).toBe(true);
  });

  it('when values, counters and locks share a key, then they are separate (as their Redis keys are)', async () => {
    const { ops } = store();
    await ops.set('k', 'v', 1000);
    await ops.increment('k', 1000);
    expect(await ops.acquire('k', 1000)).toEqual(expect.any(String));
    expect(await ops.get('k')).toBe('v');
  });

  it('when the store is closed, then calls are refused with SERVICE_UNAVAILABLE naming the use, and ping rejects', async () => {
    const { kv, ops } = store();
    await ops.set('a', 1, 1000);
    await kv.close();
    await expect(ops.get('a')).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      message: 'The test store is closed: retry later.',
    });
    await expect(kv.for('rate-limit').increment('c', 1000)).rejects.toThrow('The rate-limit store is closed');
    await expect(kv.ping()).rejects.toThrow();
  });
});

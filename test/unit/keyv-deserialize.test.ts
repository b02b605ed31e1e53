import Keyv from 'keyv';
import { fastDeserialize } from '../../src/core/cache';

// Keyv's own pair: the serializer the store writes with, the deserializer that undoes its escapes.
const keyv = new Keyv();
const serialize = keyv.serialize!;
const exact = keyv.deserialize!;
const fast = fastDeserialize(exact);

/** What Keyv stores for a value: `{ value, expires }`, serialized by its own serializer. */
const stored = async (value: unknown) => String(await serialize({ value, expires: 1_900_000_000_000 }));

describe('the session store’s deserializer', () => {
  it('when a session is read, then it is read without Keyv’s reviver, and equals what Keyv’s own deserializer reads', async () => {
    const text = await stored({ userId: 42, openid: 'oAbc-_123', sessionKey: 'tiihtNczf5v6AKRyjwEUhQ==' });
    const unreachable = fastDeserialize(() => {
      throw new Error('the exact path was taken');
    });
    expect(unreachable(text)).toEqual(await exact(text));
    expect(fast(text)).toEqual({
      value: { userId: 42, openid: 'oAbc-_123', sessionKey: 'tiihtNczf5v6AKRyjwEUhQ==' },
      expires: 1_900_000_000_000,
    });
  });

  it.each([
    ['a string value starting with a colon', { openid: ':o1' }],
    ['a doubled colon', { openid: '::x' }],
    ['a colon string in an array', { list: ['a', ':b', ''] }],
    ['a colon string first in an array', [':first', 'second']],
    ['a key starting with a colon', { ':key': 'v' }],
    ['an empty string and an empty key', { '': '', a: '' }],
    ['a quote and a colon inside a string', { nickname: 'a,":b', other: '[":' }],
    ['a Buffer', { blob: Buffer.from('secret bytes') }],
    ['a bare string starting with a colon', ':bare'],
    ['emoji and CJK', { nickname: '测试🐱👍', city: '广州' }],
    ['nested objects and numbers', { a: { b: { c: ':deep', n: 1.5, t: true, z: null } } }],
  ])(
    'when the stored value holds %s, then it reads back exactly as Keyv’s own deserializer reads it',
    async (_, value) => {
      const text = await stored(value);
      expect(fast(text)).toEqual(await exact(text));
      expect((fast(text) as { value: unknown }).value).toEqual(value);
    },
  );
});

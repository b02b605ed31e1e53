import type { EntityMetadata } from '@mikro-orm/core';
import { EXACT, useServerCollation } from '../../src/core/collation';

// MySQL 8 has no utf8mb4_nopad_bin; its NO PAD binary collation is utf8mb4_0900_bin. No MySQL 8 runs here, so the
// rewrite the server applies at start (openDatabase) is checked on its own.
const metas = () =>
  [
    {
      props: [
        { name: 'openid', collation: EXACT },
        { name: 'nickname', collation: undefined },
        { name: 'note', collation: 'utf8mb4_unicode_ci' },
      ],
    },
  ] as unknown as EntityMetadata[];

describe('useServerCollation', () => {
  it('when the server names the exact collation utf8mb4_0900_bin (MySQL 8), then identifier columns take that name and others stay', () => {
    const m = metas();
    useServerCollation(m, 'utf8mb4_0900_bin');
    expect(m[0].props.map((p) => p.collation)).toEqual(['utf8mb4_0900_bin', undefined, 'utf8mb4_unicode_ci']);
  });

  it('when the server is MariaDB (utf8mb4_nopad_bin) or has neither, then nothing changes', () => {
    for (const name of [EXACT, undefined]) {
      const m = metas();
      useServerCollation(m, name);
      expect(m[0].props.map((p) => p.collation)).toEqual([EXACT, undefined, 'utf8mb4_unicode_ci']);
    }
  });
});

import net from 'node:net';
import { startServer, type TestServer } from '../support/server';
import { notificationsFor, postNotify, returnCodeOf } from '../support/pay';
import { startStandaloneSimulator } from '../support/standalone-simulator';
import { freshDatabase } from '../support/target';
import { eventually } from '../support/eventually';

/** Every row of the archive, oldest first, straight from the database. */
async function archive(t: TestServer) {
  return (await t.server.orm.em.fork().getConnection().execute('select * from payment_notifications order by id')) as {
    id: number;
    verdict: string;
    raw_body: string;
    body_bytes: number | string;
    detail: string | null;
    processed_at: unknown;
  }[];
}

/**
 * A POST /notify over a raw socket: headers that declare `declared` bytes, then `body`, then (unless `keepOpen`) the
 * end of our side. Resolves with whatever the server answered once the connection is closed.
 */
function rawNotify(t: TestServer, declared: number, body: Buffer, keepOpen = false): Promise<string> {
  const { port } = new URL(t.url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => (answer += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(answer));
    socket.write(
      `POST /notify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\nContent-Length: ${declared}\r\n\r\n`,
    );
    socket.write(body, () => (keepOpen ? undefined : socket.end()));
  });
}

describe('the notify archive', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when a sender declares a Content-Length of 2^31 and sends a small body before closing, then a row keeps the bytes that arrived, judged INCOMPLETE', async () => {
    const marker = `Huge${Date.now()}`;
    const body = Buffer.from(`<xml><out_trade_no>${marker}</out_trade_no></xml>`);
    await rawNotify(t, 2 ** 31, body);
    expect(await eventually(async () => (await archive(t)).some((r) => r.raw_body.includes(marker)), 10000)).toBe(true);
    const row = (await archive(t)).find((r) => r.raw_body.includes(marker))!;
    expect(row.verdict).toBe('INCOMPLETE');
    expect(Number(row.body_bytes)).toBe(body.length);
    expect(row.processed_at).not.toBeNull();
  });

  it('when a sender declares a Content-Length of 2^31 and sends more than the 64 KB cap, then it is answered 413 FAIL and a row keeps 4 KB and the bytes that arrived', async () => {
    const marker = `HugeCap${Date.now()}`;
    const body = Buffer.from(`<xml><out_trade_no>${marker}</out_trade_no><pad>${'x'.repeat(200 * 1024)}</pad></xml>`);
    // Our side stays open, as a sender waiting for its answer would: the server answers, then closes.
    const answer = await rawNotify(t, 2 ** 31, body, true);
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    expect(returnCodeOf(answer)).toBe('FAIL');
    const row = (await archive(t)).find((r) => r.raw_body.includes(marker))!;
    expect(row.verdict).toBe('BODY_TOO_LARGE');
    expect(row.raw_body.length).toBe(4 * 1024);
    // What was read before reading stopped: past the cap, never the 2^31 the sender claimed nor more than it sent.
    expect(Number(row.body_bytes)).toBeGreaterThan(64 * 1024);
    expect(Number(row.body_bytes)).toBeLessThanOrEqual(body.length);
  });

  it('when a body is cut short by the sender with a plausible Content-Length, then its row is INCOMPLETE, not left RECEIVED', async () => {
    const marker = `Short${Date.now()}`;
    const body = Buffer.from(`<xml><out_trade_no>${marker}</out_trade_no>`);
    await rawNotify(t, body.length + 100, body);
    expect(await eventually(async () => (await archive(t)).some((r) => r.raw_body.includes(marker)), 10000)).toBe(true);
    expect((await archive(t)).filter((r) => r.raw_body.includes(marker)).map((r) => r.verdict)).toEqual(['INCOMPLETE']);
  });
});

describe('rows a crash left RECEIVED', () => {
  it('when a server starts on a database holding an old RECEIVED row, then that row is settled as ERROR, and a young one is left to whoever is processing it', async () => {
    const database = await freshDatabase();
    try {
      const first = await startServer({ database });
      // As a crash mid-notify leaves them: inserted, never judged.
      const conn = first.server.orm.em.fork().getConnection();
      const insert =
        "insert into payment_notifications (received_at, raw_body, body_bytes, verdict) values (?, ?, ?, 'RECEIVED')";
      await conn.execute(insert, [new Date(Date.now() - 10 * 60_000), '<xml><crashed>old</crashed></xml>', 33]);
      await conn.execute(insert, [new Date(), '<xml><crashed>young</crashed></xml>', 35]);
      await first.close();

      const second = await startServer({ database });
      try {
        const rows = await archive(second);
        const old = rows.find((r) => r.raw_body.includes('old'))!;
        expect(old.verdict).toBe('ERROR');
        expect(old.detail).toMatch(/left RECEIVED/);
        expect(old.processed_at).not.toBeNull();
        expect(rows.find((r) => r.raw_body.includes('young'))!.verdict).toBe('RECEIVED');
      } finally {
        await second.close();
      }
    } finally {
      await database.drop();
    }
  });
});

describe('a login-only server (no merchant)', () => {
  it('when anonymous notifies arrive, then each body is kept to the 4 KB cap like any unverified one', async () => {
    const sim = await startStandaloneSimulator();
    const { WECHAT_APPID, WECHAT_SECRET, WECHAT_API_BASE } = sim.env();
    const t = await startServer({ env: { WECHAT_APPID, WECHAT_SECRET, WECHAT_API_BASE } });
    try {
      const marker = `LoginOnly${Date.now()}`;
      const res = await postNotify(
        t,
        `<xml><out_trade_no>${marker}</out_trade_no><pad>${'y'.repeat(60 * 1024)}</pad></xml>`,
      );
      expect(res.status).toBe(503);
      expect(returnCodeOf(res.text)).toBe('FAIL');
      const kept = (await notificationsFor(t, null)).filter((n) => n.raw_body.includes(marker));
      expect(kept.map((n) => n.verdict)).toEqual(['PAYMENTS_DISABLED']);
      expect(kept[0].raw_body.length).toBe(4 * 1024);
      expect(Number(kept[0].body_bytes)).toBeGreaterThan(60 * 1024);
    } finally {
      await t.close();
      await sim.close();
    }
  });
});

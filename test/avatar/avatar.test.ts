import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { avatarRepository } from '../../src/avatar/avatar.repository';
import { createAvatarService } from '../../src/avatar/avatar.service';
import { diskAvatarStorage } from '../../src/avatar/avatar.storage';
import { startServer, type TestServer } from '../support/server';
import { SecretWatch } from '../support/secrets';

const MAX_BYTES = 4096;

/** Bytes that open the way each format's real files do, then noise (the check is the magic bytes, not a decoder). */
const body = (head: Buffer, size: number) => Buffer.concat([head, randomBytes(Math.max(0, size - head.length))]);
const JPEG_HEAD = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]);
const PNG_HEAD = Buffer.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
]);
const webpHead = (size: number) =>
  Buffer.concat([
    Buffer.from('RIFF'),
    Buffer.from([(size - 8) & 0xff, ((size - 8) >> 8) & 0xff, 0, 0]),
    Buffer.from('WEBPVP8 '),
  ]);
const GIF_HEAD = Buffer.from('GIF89a\x01\x00\x01\x00', 'latin1');

type ErrorBody = { errors: { message: string; extensions?: { code?: string; maxBytes?: number } }[] };

describe('POST /avatar and GET /avatars/<id>.<ext>', () => {
  let t: TestServer;
  let dir: string;
  const secrets = new SecretWatch();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'avatars-'));
    t = await startServer({ env: { AVATAR_DIR: dir, AVATAR_MAX_BYTES: String(MAX_BYTES) } });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function loggedIn() {
    const a = await t.login();
    await secrets.watchToken(t, a.token);
    return a;
  }

  /** What wx.uploadFile sends: multipart/form-data, the file under `name` with its file name and declared type. */
  interface UploadOptions {
    token?: string;
    name?: string;
    filename?: string;
    type?: string;
    fields?: Record<string, string>;
  }
  async function upload(
    data: Buffer | undefined,
    { token, name = 'file', filename = 'avatar.jpg', type = 'image/jpeg', fields = {} }: UploadOptions = {},
  ) {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    if (data) form.append(name, new Blob([new Uint8Array(data)], { type }), filename);
    const res = await fetch(`${t.url}/avatar`, {
      method: 'POST',
      body: form,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
    const text = await res.text();
    t.responses.push(text);
    return {
      status: res.status,
      type: res.headers.get('content-type'),
      json: JSON.parse(text) as { url?: string } & Partial<ErrorBody>,
    };
  }

  const stored = () => readdirSync(dir).sort();
  const codeOf = (json: Partial<ErrorBody>) => json.errors?.[0]?.extensions?.code;

  it.each([
    ['JPEG', body(JPEG_HEAD, 1500), 'jpg', 'image/jpeg'],
    ['PNG', body(PNG_HEAD, 2000), 'png', 'image/png'],
    ['WebP', body(webpHead(900), 900), 'webp', 'image/webp'],
    ['JPEG of exactly AVATAR_MAX_BYTES', body(JPEG_HEAD, MAX_BYTES), 'jpg', 'image/jpeg'],
  ])(
    'when a %s is uploaded, then the answer is a URL under the public base that serves the same bytes, typed and not cached before the image check passes it, and its owner is recorded',
    async (_, data, ext, contentType) => {
      const a = await loggedIn();
      // Declared as something else and named .bin: only the bytes decide.
      const res = await upload(data, { token: a.token, filename: 'tmp_123.bin', type: 'application/octet-stream' });
      expect(res.status).toBe(200);
      expect(res.type).toMatch(/^application\/json/);
      const url = res.json.url!;
      expect(url).toMatch(new RegExp(`^${t.url.replace(/\./g, '\\.')}/avatars/[0-9a-f]{32}\\.${ext}$`));

      const got = await fetch(url);
      expect(got.status).toBe(200);
      expect(got.headers.get('content-type')).toBe(contentType);
      expect(got.headers.get('cache-control')).toBe('no-store');
      expect(got.headers.get('x-content-type-options')).toBe('nosniff');
      expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);

      const id = /([0-9a-f]{32})\.\w+$/.exec(url)![1];
      expect(stored()).toContain(`${id}.${ext}`);
      const row = await avatarRepository(t.server.orm.em.fork()).find(id);
      expect(row).toEqual({
        id,
        userId: Number(a.userId),
        format: ext === 'jpg' ? 'jpeg' : ext,
        bytes: data.length,
        review: null,
        traceId: null,
        submittedAt: null,
      });
    },
  );

  it("when an upload is recorded, then setProfile's check accepts it for its uploader only, and no URL that is not exactly ours", async () => {
    const owner = await loggedIn();
    const other = await loggedIn();
    const { url } = (await upload(body(PNG_HEAD, 300), { token: owner.token })).json;
    const check = createAvatarService({
      storage: diskAvatarStorage(dir),
      maxBytes: MAX_BYTES,
      publicBaseUrl: () => t.url,
    });
    const em = () => t.server.orm.em.fork();
    expect(await check.issued(em(), url!, Number(owner.userId))).toMatchObject({ userId: Number(owner.userId) });
    expect(await check.issued(em(), url!, Number(other.userId))).toBeUndefined();
    const [, name] = /\/avatars\/(.+)$/.exec(url!)!;
    for (const notOurs of [
      `https://evil.example.com/avatars/${name}`,
      `${url}?x=1`,
      url!.replace('.png', '.jpg'),
      url!.toUpperCase(),
      `${t.url}/avatars/${'0'.repeat(32)}.png`,
      `${t.url}/avatars/../avatars/${name}`,
    ]) {
      expect([notOurs, await check.issued(em(), notOurs, Number(owner.userId))]).toEqual([notOurs, undefined]);
    }
    // A row whose image is gone (an INSERT that reached the database after its upload had failed) is no avatar.
    rmSync(join(dir, name));
    expect(await check.issued(em(), url!, Number(owner.userId))).toBeUndefined();
    // Uploading the same bytes again is a new upload, with its own id.
    const again = (await upload(body(PNG_HEAD, 300), { token: other.token })).json.url!;
    expect(again).not.toBe(url);
  });

  it('when PUBLIC_BASE_URL is set, then the URL is under it', async () => {
    const s = await startServer({ env: { AVATAR_DIR: dir, PUBLIC_BASE_URL: 'https://cdn.example.com/mp/' } });
    try {
      const a = await s.login();
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(body(JPEG_HEAD, 100))]), 'a.jpg');
      const res = await fetch(`${s.url}/avatar`, {
        method: 'POST',
        body: form,
        headers: { authorization: `Bearer ${a.token}` },
      });
      const { url } = (await res.json()) as { url: string };
      expect(url).toMatch(/^https:\/\/cdn\.example\.com\/mp\/avatars\/[0-9a-f]{32}\.jpg$/);
      // The same path is served by this server, for the CDN to pull.
      expect((await fetch(url.replace('https://cdn.example.com/mp', s.url))).status).toBe(200);

      // The default AVATAR_MAX_BYTES, 2 MB, well above BODY_LIMIT_BYTES (which bounds JSON bodies, not uploads).
      const sized = async (size: number) => {
        const f = new FormData();
        f.append('file', new Blob([new Uint8Array(body(PNG_HEAD, size))]), 'big.png');
        return (
          await fetch(`${s.url}/avatar`, { method: 'POST', body: f, headers: { authorization: `Bearer ${a.token}` } })
        ).status;
      };
      expect(await sized(2 * 1024 * 1024)).toBe(200);
      expect(await sized(2 * 1024 * 1024 + 1)).toBe(413);
    } finally {
      await s.close();
    }
  });

  it('when the file is over AVATAR_MAX_BYTES, then 413 AVATAR_TOO_LARGE and nothing is stored', async () => {
    const a = await loggedIn();
    const before = stored();
    for (const size of [MAX_BYTES + 1, 64 * 1024]) {
      const res = await upload(body(JPEG_HEAD, size), { token: a.token });
      expect(res.status).toBe(413);
      expect(codeOf(res.json)).toBe('AVATAR_TOO_LARGE');
      expect(res.json.errors![0].extensions!.maxBytes).toBe(MAX_BYTES);
    }
    expect(stored()).toEqual(before);
  });

  it.each([
    ['a GIF named .jpg and declared image/jpeg', body(GIF_HEAD, 500), 'photo.jpg', 'image/jpeg'],
    ['a GIF named .png', body(GIF_HEAD, 500), 'photo.png', 'image/png'],
    ['a text file named .png', Buffer.from('just some text, not an image\n'), 'avatar.png', 'image/png'],
    ['HTML declared image/webp', Buffer.from('<html><script>alert(1)</script></html>'), 'a.webp', 'image/webp'],
    [
      'a RIFF that is not WebP (a WAV)',
      Buffer.concat([Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt '), randomBytes(40)]),
      'a.webp',
      'image/webp',
    ],
    ['a truncated PNG signature', PNG_HEAD.subarray(0, 5), 'a.png', 'image/png'],
  ])('when %s is uploaded, then 415 AVATAR_UNSUPPORTED_TYPE and nothing is stored', async (_, data, filename, type) => {
    const a = await loggedIn();
    const before = stored();
    const res = await upload(data, { token: a.token, filename, type });
    expect(res.status).toBe(415);
    expect(codeOf(res.json)).toBe('AVATAR_UNSUPPORTED_TYPE');
    expect(stored()).toEqual(before);
  });

  it('when there is no token, or a bad one, then 401 UNAUTHENTICATED and nothing is stored', async () => {
    const before = stored();
    for (const token of [undefined, 'x'.repeat(43), 'not-a-token']) {
      const res = await upload(body(JPEG_HEAD, 500), { token });
      expect(res.status).toBe(401);
      expect(codeOf(res.json)).toBe('UNAUTHENTICATED');
    }
    // A logged-out token too.
    const a = await t.login();
    expect((await t.gql('mutation { logout }', {}, a.token)).errors).toBeUndefined();
    const res = await upload(body(JPEG_HEAD, 500), { token: a.token });
    expect([res.status, codeOf(res.json)]).toEqual([401, 'UNAUTHENTICATED']);
    expect(stored()).toEqual(before);
  });

  it('when the file field is missing, named otherwise, empty, or the body is not multipart, then 400 BAD_USER_INPUT and nothing is stored', async () => {
    const a = await loggedIn();
    const before = stored();
    for (const res of [
      await upload(undefined, { token: a.token, fields: { note: 'no file here' } }),
      await upload(body(JPEG_HEAD, 500), { token: a.token, name: 'image' }),
      await upload(Buffer.alloc(0), { token: a.token }),
    ]) {
      expect([res.status, codeOf(res.json)]).toEqual([400, 'BAD_USER_INPUT']);
    }
    for (const [type, payload] of [
      ['application/json', JSON.stringify({ file: 'x' })],
      ['image/jpeg', body(JPEG_HEAD, 100)],
    ] as const) {
      const res = await fetch(`${t.url}/avatar`, {
        method: 'POST',
        body: new Uint8Array(Buffer.from(payload)),
        headers: { authorization: `Bearer ${a.token}`, 'content-type': type },
      });
      const json = (await res.json()) as ErrorBody;
      expect([type, res.status, codeOf(json)]).toEqual([type, 400, 'BAD_USER_INPUT']);
    }
    expect(stored()).toEqual(before);
  });

  it('when other form fields come with the file (wx.uploadFile formData), then the file is still stored', async () => {
    const a = await loggedIn();
    const res = await upload(body(PNG_HEAD, 400), { token: a.token, fields: { scene: 'profile' } });
    expect(res.status).toBe(200);
    expect(res.json.url).toMatch(/\.png$/);
  });

  it('when a GET names anything but an issued <32 hex>.<jpg|png|webp>, then 404 and no file outside AVATAR_DIR is read', async () => {
    const a = await loggedIn();
    const { url } = (await upload(body(JPEG_HEAD, 200), { token: a.token })).json;
    const id = /([0-9a-f]{32})\.jpg$/.exec(url!)![1];
    for (const path of [
      '/avatars/..%2F..%2Fpackage.json',
      '/avatars/%2e%2e%2fpackage.json',
      '/avatars/..%5C..%5Cpackage.json',
      `/avatars/${id}.jpg%00.png`,
      `/avatars/${id.toUpperCase()}.jpg`,
      `/avatars/${id}.png`,
      `/avatars/${id}.gif`,
      `/avatars/${id}`,
      `/avatars/${'a'.repeat(32)}.jpg`,
      '/avatars/.upload-0123456789abcdef',
    ]) {
      const res = await fetch(t.url + path);
      expect([path, res.status]).toEqual([path, 404]);
      expect(await res.text()).not.toContain('"name"');
    }
    // Sanity: the real one is there.
    expect((await fetch(`${t.url}/avatars/${id}.jpg`)).status).toBe(200);
  });

  it("when the upload's row cannot be written (the user is gone), then the answer is a 500 and the image is removed", async () => {
    const a = await loggedIn();
    const before = stored();
    await t.server.orm.em
      .fork()
      .getConnection()
      .execute('delete from users where id = ?', [Number(a.userId)]);
    const res = await upload(body(JPEG_HEAD, 500), { token: a.token });
    expect([res.status, codeOf(res.json)]).toEqual([500, 'INTERNAL_SERVER_ERROR']);
    expect(stored()).toEqual(before);
  });

  it('when every test ran, then no token or session_key appeared in a log line, nor a session_key in an answer', () => {
    expect(secrets.size).toBeGreaterThan(10);
    expect(secrets.leaks(t)).toEqual([]);
  });
});

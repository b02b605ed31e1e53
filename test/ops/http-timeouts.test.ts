import { connect, type Socket } from 'node:net';
import { startServer, type TestServer } from '../support/server';

const REQUEST_TIMEOUT_MS = 1500;
const KEEP_ALIVE_TIMEOUT_MS = 1000;
/** Generous: the bound plus Node's 1 s connection sweep plus a loaded CI machine. */
const CLOSED_WITHIN_MS = 15_000;

/** Opens a raw TCP connection to the server, writes `bytes`, and reports what came back and when it closed. */
function rawRequest(t: TestServer, bytes: string) {
  const { port } = new URL(t.url);
  const socket: Socket = connect(Number(port), '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => undefined);
  const closed = new Promise<{ received: string }>((resolve) => socket.on('close', () => resolve({ received })));
  socket.write(bytes);
  return { socket, closed };
}

/** Resolves with the close, or with 'still open' once `ms` have passed. */
const closedWithin = (closed: Promise<{ received: string }>, ms: number) =>
  Promise.race([closed, new Promise<'still open'>((resolve) => setTimeout(() => resolve('still open'), ms).unref())]);

describe('HTTP bounds', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({
      env: { REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS), KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_TIMEOUT_MS) },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('when a client sends the headers and half the body, then the server answers 408 or closes the connection within REQUEST_TIMEOUT_MS; a healthy request still works', async () => {
    const body = JSON.stringify({ query: '{ __typename }' });
    const head = `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
    const { socket, closed } = rawRequest(t, head + body.slice(0, body.length / 2));
    try {
      const outcome = await closedWithin(closed, REQUEST_TIMEOUT_MS + CLOSED_WITHIN_MS);
      expect(outcome).not.toBe('still open');
      const { received } = outcome as { received: string };
      if (received) expect(received).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      socket.destroy();
    }
    expect((await t.gql(`{ __typename }`)).data).toEqual({ __typename: 'Query' });
  });

  it('when a client sends half its headers and stops, then the connection is closed', async () => {
    const { socket, closed } = rawRequest(t, 'POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty');
    try {
      expect(await closedWithin(closed, REQUEST_TIMEOUT_MS + CLOSED_WITHIN_MS)).not.toBe('still open');
    } finally {
      socket.destroy();
    }
  });

  it('when a keep-alive connection stays idle after its answer, then the server closes it after KEEP_ALIVE_TIMEOUT_MS', async () => {
    const body = JSON.stringify({ query: '{ __typename }' });
    const { socket, closed } = rawRequest(
      t,
      `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    try {
      const outcome = await closedWithin(closed, KEEP_ALIVE_TIMEOUT_MS + CLOSED_WITHIN_MS);
      expect(outcome).not.toBe('still open');
      expect((outcome as { received: string }).received).toMatch(/^HTTP\/1\.1 200 [\s\S]*"__typename":"Query"/);
    } finally {
      socket.destroy();
    }
  });
});

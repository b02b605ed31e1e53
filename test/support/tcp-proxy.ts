import net from 'node:net';

/**
 * How the hop behaves:
 *  - 'open': bytes flow both ways.
 *  - 'frozen': connections are accepted and bytes are held, not forwarded, until thaw() delivers them in order:
 *    a stopped process (SIGSTOP) or a long GC pause, where the kernel keeps what was sent.
 *  - 'blackhole': connections are accepted and bytes are dropped for good: a dead network path, where nothing
 *    answers and nothing says so.
 */
export type ProxyMode = 'open' | 'frozen' | 'blackhole';

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  /** Held while frozen, per direction. */
  toUpstream: Buffer[];
  toClient: Buffer[];
}

/**
 * A real TCP hop in front of a real service, which a test can cut, freeze or black-hole and restore: how we make
 * MariaDB, Redis or WeChat misbehave without touching the machine's own services that other suites share.
 */
export class TcpProxy {
  private server?: net.Server;
  private readonly pairs = new Set<Pair>();
  private mode: ProxyMode = 'open';
  port = 0;
  /** Connections accepted since start, closed ones included. */
  accepted = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<number> {
    this.server = net.createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this.port;
  }

  /** Connections through the proxy that are open now. */
  get connections(): number {
    return this.pairs.size;
  }

  /**
   * Bytes a freeze holds now that thaw() would still deliver (a side that hung up gets nothing): a test waits on it
   * to know a request is on the wire, or that a connection's close has reached the hop.
   */
  get heldBytes(): number {
    let n = 0;
    for (const pair of this.pairs) {
      if (pair.client.destroyed || pair.upstream.destroyed) continue;
      for (const chunk of [...pair.toUpstream, ...pair.toClient]) n += chunk.length;
    }
    return n;
  }

  private accept(client: net.Socket) {
    this.accepted += 1;
    const upstream = net.connect(this.target);
    const pair: Pair = { client, upstream, toUpstream: [], toClient: [] };
    this.pairs.add(pair);
    const forward = (to: net.Socket, held: Buffer[]) => (chunk: Buffer) => {
      if (this.mode === 'open') to.write(chunk);
      else if (this.mode === 'frozen') held.push(chunk);
      // 'blackhole': dropped.
    };
    client.on('data', forward(upstream, pair.toUpstream));
    upstream.on('data', forward(client, pair.toClient));
    for (const s of [client, upstream]) s.on('error', () => s.destroy());
    const close = () => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    // A frozen or black-holed peer says nothing, not even that the other side hung up.
    client.on('close', () => (this.mode === 'open' ? close() : this.pairs.has(pair) && upstream.destroy()));
    upstream.on('close', () => (this.mode === 'open' ? close() : undefined));
  }

  /** Holds every byte in both directions, on open and new connections, until thaw(). */
  freeze(): void {
    this.mode = 'frozen';
  }

  /** Drops every byte in both directions, on open and new connections, until thaw(). */
  blackhole(): void {
    this.mode = 'blackhole';
  }

  /** Back to 'open': what a freeze held is delivered in order; what a black hole dropped is gone. */
  thaw(): void {
    this.mode = 'open';
    for (const pair of this.pairs) {
      for (const chunk of pair.toUpstream.splice(0)) pair.upstream.write(chunk);
      for (const chunk of pair.toClient.splice(0)) pair.client.write(chunk);
      if (pair.client.destroyed || pair.upstream.destroyed) {
        this.pairs.delete(pair);
        pair.client.destroy();
        pair.upstream.destroy();
      }
    }
  }

  /** Drops every open connection (each side sees a reset or close) but keeps accepting new ones. */
  drop(): void {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.pairs.clear();
  }

  /** Refuses new connections and drops the open ones. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.drop();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Accepts again on the same port after cut(). */
  async restore(): Promise<void> {
    if (this.server) return;
    this.mode = 'open';
    await this.start();
  }

  async stop(): Promise<void> {
    this.mode = 'open';
    await this.cut();
  }
}

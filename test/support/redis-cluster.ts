import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@redis/client';
import { eventually } from './eventually';
import { onServices } from './target';

export interface ClusterNode {
  port: number;
  process: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
}

export interface LocalRedisCluster {
  /** REDIS_CLUSTER_NODES for a server on this cluster: every node, `127.0.0.1:<port>,…`. */
  nodesSetting: string;
  nodes: ClusterNode[];
  /** The port of the master that serves `key`'s slot now. */
  masterOf(key: string): Promise<number>;
  /** The ports of the masters, as the live nodes see them now. */
  masters(): Promise<number[]>;
  /** Runs one command on the node at `port` (a fresh connection), e.g. ['CLUSTER', 'INFO']. */
  command(port: number, args: string[]): Promise<unknown>;
  /** SIGKILLs the node at `port`: no goodbye to its peers, its connections just break. */
  kill(port: number): Promise<void>;
  /** The node's log so far (redis-server's own, in the temp dir). */
  log(port: number): string;
  /** Until every live node says cluster_state:ok and every slot has a live master. */
  waitUntilOk(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

// From PATH, as .ci/run checks them.
const REDIS_SERVER = 'redis-server';
const REDIS_CLI = 'redis-cli';

function have(binary: string): boolean {
  return spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Whether this run can start a local cluster. CI (REQUIRE_SERVICES=1) never skips: without redis-server and
 * redis-cli the cluster suites fail loudly, and .ci/run refuses to start at all.
 */
export const clusterAvailable = have(REDIS_SERVER) && have(REDIS_CLI);

/** `describe` for the Redis Cluster suites: services project only, and never skipped in CI. */
export const describeCluster =
  onServices && (clusterAvailable || process.env.REQUIRE_SERVICES === '1') ? describe : describe.skip;
if (onServices && !clusterAvailable && process.env.REQUIRE_SERVICES !== '1')
  console.warn(`[cluster] ${REDIS_SERVER} or ${REDIS_CLI} missing: skipping the Redis Cluster suites`);

/** A TCP port free now, whose cluster bus port (+10000) is free too. */
async function freePort(taken: Set<number>): Promise<number> {
  const canListen = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 35000);
    if (taken.has(port) || taken.has(port + 10000)) continue;
    if ((await canListen(port)) && (await canListen(port + 10000))) {
      taken.add(port);
      taken.add(port + 10000);
      return port;
    }
  }
  throw new Error('no free port pair for a cluster node');
}

async function send(port: number, args: string[]): Promise<unknown> {
  const client = createClient({ socket: { host: '127.0.0.1', port, connectTimeout: 2000, reconnectStrategy: false } });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

/**
 * Three masters, each with one replica: six `redis-server --cluster-enabled yes` on free ports in a temp dir, joined
 * by `redis-cli --cluster create … --cluster-replicas 1`. `nodeTimeoutMs` is cluster-node-timeout: how long a
 * master may be silent before its replica takes over.
 */
export async function startRedisCluster({ nodeTimeoutMs = 2000 } = {}): Promise<LocalRedisCluster> {
  if (!clusterAvailable) throw new Error(`${REDIS_SERVER} and ${REDIS_CLI} are needed for the Redis Cluster suites`);
  const dir = mkdtempSync(join(tmpdir(), 'wxmp-cluster-'));
  const taken = new Set<number>();
  const nodes: ClusterNode[] = [];
  const stop = async () => {
    for (const n of nodes) if (n.process.exitCode === null && n.process.signalCode === null) n.process.kill('SIGKILL');
    await Promise.all(nodes.map((n) => n.exited));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 6; i++) {
      const port = await freePort(taken);
      // Spawned directly (no shell, no daemonize): the pid is the server's, so teardown kills exactly it.
      const child = spawn(
        REDIS_SERVER,
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout',
          String(nodeTimeoutMs),
          '--appendonly',
          'no',
          // A replica's first full sync starts at once, not after Redis's default 5 s wait for more replicas.
          '--repl-diskless-sync-delay',
          '0',
          '--save',
          '',
          '--dir',
          dir,
          '--logfile',
          join(dir, `${port}.log`),
        ],
        { stdio: 'ignore' },
      );
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      nodes.push({ port, process: child, exited });
    }
    for (const n of nodes)
      if (!(await eventually(async () => (await send(n.port, ['PING'])) === 'PONG', 10000)))
        throw new Error(`redis-server on ${n.port} did not answer`);
    const create = spawnSync(
      REDIS_CLI,
      ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30000 },
    );
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}${create.stderr}`);
  } catch (err) {
    await stop();
    throw err;
  }

  const alive = () => nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
  /** CLUSTER SLOTS from a live node: [from, to, [host, port, id], …replicas]. */
  const slots = async () => {
    for (const n of alive()) {
      try {
        return (await send(n.port, ['CLUSTER', 'SLOTS'])) as [number, number, [string, number]][];
      } catch {
        // That node is going down too: ask the next.
      }
    }
    throw new Error('no cluster node answers');
  };
  const cluster: LocalRedisCluster = {
    nodesSetting: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    nodes,
    async masterOf(key) {
      const slot = Number(await send(alive()[0].port, ['CLUSTER', 'KEYSLOT', key]));
      const range = (await slots()).find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`slot ${slot} has no master`);
      return Number(range[2][1]);
    },
    async masters() {
      return [...new Set((await slots()).map((r) => Number(r[2][1])))].sort();
    },
    command: send,
    log: (port) => {
      try {
        return readFileSync(join(dir, `${port}.log`), 'utf8');
      } catch {
        return '';
      }
    },
    async kill(port) {
      const node = nodes.find((n) => n.port === port);
      if (!node) throw new Error(`no node on ${port}`);
      node.process.kill('SIGKILL');
      await node.exited;
    },
    async waitUntilOk(timeoutMs) {
      const ok = await eventually(async () => {
        const live = new Set(alive().map((n) => n.port));
        for (const port of live) {
          const info = String(await send(port, ['CLUSTER', 'INFO']));
          if (!/cluster_state:ok/.test(info)) return false;
        }
        const ranges = await slots();
        const covered = ranges.reduce((sum, [from, to]) => sum + (to - from + 1), 0);
        return covered === 16384 && ranges.every((r) => live.has(Number(r[2][1])));
      }, timeoutMs);
      if (!ok) throw new Error(`the cluster did not reach cluster_state:ok within ${timeoutMs} ms`);
    },
    stop,
  };
  try {
    await cluster.waitUntilOk(30000);
    // Every replica has its master's data before a test starts: a test that kills a master needs its replica whole.
    const linked = await eventually(async () => {
      for (const n of alive()) {
        const info = String(await send(n.port, ['INFO', 'replication']));
        if (/role:slave/.test(info) && !/master_link_status:up/.test(info)) return false;
      }
      return true;
    }, 30000);
    if (!linked) throw new Error('a replica did not finish its first sync within 30 s');
  } catch (err) {
    await stop();
    throw err;
  }
  return cluster;
}

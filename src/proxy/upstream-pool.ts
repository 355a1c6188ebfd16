// Keeps the proxy's upstream TLS connections for intercepted tunnels, per (host, port, address), shared by every
// agent connection of every run: a connection goes back here only between messages, so the next request (with its
// own credential header) starts on a clean connection. Bounded: sockets per host, idle sockets per host and in all,
// and an idle timeout. It never reads or writes a byte of a request.
import type tls from 'node:tls';

export interface PooledUpstream {
  socket: tls.TLSSocket;
  /** It already carried a whole exchange: an error before any response may mean the upstream closed it while idle. */
  reused: boolean;
}

export interface UpstreamPool {
  /** An idle connection (newest first) or a new one; undefined when host:port is at its limit (then `wait`). */
  acquire(host: string, port: number): PooledUpstream | undefined;
  /** Hands over a connection once host:port has room again; returns a function that cancels the wait. */
  wait(host: string, port: number, onReady: (upstream: PooledUpstream) => void): () => void;
  /** Gives a connection back between messages; kept for the next request when reusable and there is room. */
  release(socket: tls.TLSSocket, reusable: boolean): void;
  /**
   * The lessee keeps a connection between its own messages (an agent's keep-alive connection): no pool round trip per
   * request. When another request for the host must wait, `reclaim` is called and must release it. False when a
   * request is waiting already: then the lessee releases it instead.
   */
  park(socket: tls.TLSSocket, reclaim: () => void): boolean;
  /** The lessee uses its parked connection again. */
  unpark(socket: tls.TLSSocket): void;
  /** Starts a connection now when host:port has none idle, so its handshake overlaps the agent's own. */
  prewarm(host: string, port: number): void;
  stats(): { open: number; idle: number; parked: number; waiting: number };
  close(): void;
}

export interface UpstreamPoolOptions {
  connect(host: string, port: number): tls.TLSSocket;
  /** Connections are shared only between equal keys: the real name (for SNI and the certificate) and the address. */
  keyOf(host: string, port: number): string;
  maxSocketsPerHost?: number;
  maxIdlePerHost?: number;
  maxIdleTotal?: number;
  idleTimeoutMs?: number;
}

interface HostPool {
  key: string;
  host: string;
  port: number;
  open: Set<tls.TLSSocket>;
  /** Oldest first; taken from the end. */
  idle: tls.TLSSocket[];
  /** Leased connections kept by their lessee between messages, oldest first, with how to ask for them back. */
  parked: Map<tls.TLSSocket, () => void>;
  waiters: ((upstream: PooledUpstream) => void)[];
}

interface SocketState {
  pool: HostPool;
  used: boolean;
  idle: boolean;
}

// Each open upstream TLS connection costs OpenSSL and socket buffers (tens of KB): the limits bound the proxy's
// memory whatever the agents do. A request past the per-host limit waits for a connection (a long SSE stream
// holds one for its whole length), it is not refused.
export const DEFAULT_MAX_SOCKETS_PER_HOST = 128;
export const DEFAULT_MAX_IDLE_PER_HOST = 32;
export const DEFAULT_MAX_IDLE_TOTAL = 64;
/** Dropped before most servers' own keep-alive timeouts (Node 5 s, nginx 75 s, most APIs 60 s or more) bite. */
export const DEFAULT_IDLE_TIMEOUT_MS = 4_000;

export function createUpstreamPool(opts: UpstreamPoolOptions): UpstreamPool {
  const maxSockets = opts.maxSocketsPerHost ?? DEFAULT_MAX_SOCKETS_PER_HOST;
  const maxIdle = opts.maxIdlePerHost ?? DEFAULT_MAX_IDLE_PER_HOST;
  const maxIdleTotal = opts.maxIdleTotal ?? DEFAULT_MAX_IDLE_TOTAL;
  const idleTimeoutMs = opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const pools = new Map<string, HostPool>();
  const states = new WeakMap<tls.TLSSocket, SocketState>();
  /** Every idle socket, oldest first, for the pool-wide limit (many hosts, one idle socket each). */
  const idleOrder = new Set<tls.TLSSocket>();
  let closed = false;

  const getHostPool = (host: string, port: number): HostPool => {
    const key = opts.keyOf(host, port);
    let pool = pools.get(key);
    if (pool === undefined) {
      pool = { key, host, port, open: new Set(), idle: [], parked: new Map(), waiters: [] };
      pools.set(key, pool);
    }
    return pool;
  };

  // While idle the pool owns the socket: a byte from the upstream now (a late 408, garbage) would be read as the
  // answer to the next request, so the socket is dropped instead.
  const onIdleData = function (this: tls.TLSSocket): void {
    dropIdle(this);
  };

  /** Out of the idle lists at once (its 'close' comes later), then closed. */
  function dropIdle(socket: tls.TLSSocket): void {
    const state = states.get(socket);
    if (state?.idle === true) takeIdle(socket, state);
    socket.destroy();
  }

  function markIdle(socket: tls.TLSSocket, state: SocketState): void {
    state.idle = true;
    state.pool.idle.push(socket);
    idleOrder.add(socket);
    socket.on('data', onIdleData);
    socket.setTimeout(idleTimeoutMs);
    if (idleOrder.size > maxIdleTotal) dropIdle(idleOrder.values().next().value!);
  }

  function takeIdle(socket: tls.TLSSocket, state: SocketState): void {
    state.idle = false;
    const list = state.pool.idle;
    const at = list.lastIndexOf(socket);
    if (at !== -1) list.splice(at, 1);
    idleOrder.delete(socket);
    socket.off('data', onIdleData);
    socket.setTimeout(0);
  }

  function openSocket(pool: HostPool): tls.TLSSocket {
    const socket = opts.connect(pool.host, pool.port);
    const state: SocketState = { pool, used: false, idle: false };
    states.set(socket, state);
    pool.open.add(socket);
    // Errors are the lessee's to report; these keep an idle socket's error from being unhandled.
    socket.on('error', () => undefined);
    socket.on('timeout', () => {
      if (state.idle) dropIdle(socket);
    });
    socket.once('close', () => {
      if (state.idle) takeIdle(socket, state);
      pool.parked.delete(socket);
      pool.open.delete(socket);
      if (pool.open.size === 0 && pool.waiters.length === 0) pools.delete(pool.key);
      serveWaiter(pool);
    });
    return socket;
  }

  function lease(socket: tls.TLSSocket): PooledUpstream {
    const state = states.get(socket)!;
    return { socket, reused: state.used };
  }

  function tryAcquire(pool: HostPool): PooledUpstream | undefined {
    const idle = pool.idle.at(-1);
    if (idle !== undefined) {
      takeIdle(idle, states.get(idle)!);
      return lease(idle);
    }
    if (pool.open.size >= maxSockets) return undefined;
    return lease(openSocket(pool));
  }

  function serveWaiter(pool: HostPool): void {
    while (!closed && pool.waiters.length > 0) {
      const upstream = tryAcquire(pool);
      if (upstream === undefined) return;
      pool.waiters.shift()!(upstream);
    }
  }

  return {
    acquire(host, port) {
      if (closed) throw new Error('upstream pool closed');
      const pool = getHostPool(host, port);
      // Waiters first: a newcomer does not overtake a connection already queued.
      if (pool.waiters.length > 0) return undefined;
      return tryAcquire(pool);
    },
    wait(host, port, onReady) {
      const pool = getHostPool(host, port);
      pool.waiters.push(onReady);
      // A connection parked by an idle agent is the one to free: its lessee leases again when it next needs one.
      const parked = pool.parked.entries().next();
      if (!parked.done) {
        pool.parked.delete(parked.value[0]);
        parked.value[1]();
      }
      return () => {
        const at = pool.waiters.indexOf(onReady);
        if (at !== -1) pool.waiters.splice(at, 1);
      };
    },
    release(socket, reusable) {
      const state = states.get(socket);
      if (state === undefined || state.idle) return;
      state.used = true;
      const { pool } = state;
      pool.parked.delete(socket);
      const clean = reusable && !closed && !socket.destroyed && socket.readableLength === 0 && socket.writable;
      if (!clean) {
        socket.destroy();
        return;
      }
      if (pool.waiters.length > 0) {
        // Handed on in a later tick: the releasing connection may still be inside its own event handler.
        const next = pool.waiters.shift()!;
        setImmediate(() => {
          if (socket.destroyed) {
            pool.waiters.unshift(next);
            serveWaiter(pool);
          } else {
            next({ socket, reused: true });
          }
        });
        return;
      }
      if (pool.idle.length >= maxIdle) {
        socket.destroy();
        return;
      }
      markIdle(socket, state);
    },
    park(socket, reclaim) {
      const state = states.get(socket);
      if (state === undefined || state.idle || socket.destroyed || state.pool.waiters.length > 0) return false;
      state.used = true;
      state.pool.parked.set(socket, reclaim);
      return true;
    },
    unpark(socket) {
      states.get(socket)?.pool.parked.delete(socket);
    },
    prewarm(host, port) {
      if (closed) return;
      const pool = getHostPool(host, port);
      if (pool.idle.length > 0 || pool.open.size >= maxSockets) return;
      const socket = openSocket(pool);
      markIdle(socket, states.get(socket)!);
    },
    stats() {
      let open = 0;
      let waiting = 0;
      let parked = 0;
      for (const pool of pools.values()) {
        open += pool.open.size;
        waiting += pool.waiters.length;
        parked += pool.parked.size;
      }
      return { open, idle: idleOrder.size, parked, waiting };
    },
    close() {
      closed = true;
      for (const pool of pools.values()) {
        pool.waiters.length = 0;
        pool.parked.clear();
        for (const socket of pool.open) socket.destroy();
      }
      pools.clear();
    },
  };
}

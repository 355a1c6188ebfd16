// The one upstream connection an intercepted agent connection may hold at a time: taking it from the pool (or
// waiting, the agent paused, while the host is at its limit), parking it between messages, and ending it: back to
// the pool when nothing is half-sent or half-read, destroyed otherwise.
import type { UpstreamLease } from './upstream-lease.js';
import type { PooledUpstream, UpstreamPool } from './upstream-pool.js';

export interface UpstreamSlotHooks {
  pool: UpstreamPool;
  host: string;
  port: number;
  /** Wraps a connection the pool handed over in a lease (its listeners are the interception's). */
  openLease(pooled: PooledUpstream): UpstreamLease;
  /** The request side and the answers owed are between messages (the lease's own response side aside). */
  isQuiet(): boolean;
  /** The agent's connection is gone: a connection handed over late goes straight back. */
  isClosed(): boolean;
  /** The agent waits while the host is at its connection limit. */
  pauseClient(): void;
  resumeClient(): void;
  /** Runs the step that waited for a connection, its writes sent together. */
  runBatched(step: () => void): void;
}

export class UpstreamSlot {
  /** The lease held, if any. */
  lease: UpstreamLease | undefined;
  private cancelWait: (() => void) | undefined;

  constructor(private readonly hooks: UpstreamSlotHooks) {}

  /** A connection was asked of the pool and not handed over yet. */
  get waiting(): boolean {
    return this.cancelWait !== undefined;
  }

  /** Between messages on both sides: the lease can go back to the pool. */
  isBetweenMessages(): boolean {
    return this.hooks.isQuiet() && (this.lease === undefined || this.lease.tracker.idle);
  }

  /**
   * Makes sure a lease is held. True when it is; false when the host is at its connection limit: the agent is
   * paused and `then` runs once a connection is handed over.
   */
  acquire(then: () => void): boolean {
    const { lease, hooks } = this;
    if (lease !== undefined) {
      if (lease.parked) {
        lease.parked = false;
        hooks.pool.unpark(lease.socket);
      }
      return true;
    }
    if (this.cancelWait !== undefined) return false;
    const pooled = hooks.pool.acquire(hooks.host, hooks.port);
    if (pooled !== undefined) {
      this.lease = hooks.openLease(pooled);
      return true;
    }
    hooks.pauseClient();
    this.cancelWait = hooks.pool.wait(hooks.host, hooks.port, (handed) => {
      this.cancelWait = undefined;
      if (hooks.isClosed()) {
        hooks.pool.release(handed.socket, true);
        return;
      }
      this.lease = hooks.openLease(handed);
      hooks.resumeClient();
      hooks.runBatched(then);
    });
    return false;
  }

  /** Ends the lease: back to the pool when nothing is half-sent or half-read, closed otherwise. */
  end(): void {
    const { lease } = this;
    if (lease === undefined) return;
    const clean = this.isBetweenMessages();
    lease.detach();
    this.lease = undefined;
    if (clean) this.hooks.pool.release(lease.socket, lease.reusable);
    else lease.socket.destroy();
  }

  /** The upstream closed or failed: the lease is dropped (its socket destroyed) and handed back to look at. */
  drop(): UpstreamLease {
    const gone = this.lease!;
    gone.detach();
    this.lease = undefined;
    gone.socket.destroy();
    return gone;
  }

  stopWaiting(): void {
    this.cancelWait?.();
    this.cancelWait = undefined;
  }

  /**
   * Between messages the agent keeps its connection parked: its next request skips the pool, and the pool takes it
   * back as soon as another request for the host would have to wait. One unfit for reuse is closed at once.
   */
  releaseIfDone(): void {
    const current = this.lease;
    if (current === undefined || current.parked || !this.isBetweenMessages() || current.tracker.mode !== 'head') return;
    if (!current.reusable) {
      this.end();
      return;
    }
    current.reused = true;
    const parked = this.hooks.pool.park(current.socket, () => {
      if (this.lease === current && current.parked && this.isBetweenMessages()) this.end();
    });
    if (parked) current.parked = true;
    else this.end();
  }
}

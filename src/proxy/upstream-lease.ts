// One pooled upstream connection while an intercepted agent connection holds it: bytes both ways with backpressure
// (a full buffer on one side pauses the other), writes held together for one batch, and a clean hand-back: every
// listener and pause it set is undone when the lease ends, so the next lessee starts fresh.
import type tls from 'node:tls';
import { createResponseTracker, type ResponseEvents, type ResponseTracker } from './response-tracker.js';
import type { PooledUpstream } from './upstream-pool.js';

export interface UpstreamLease {
  readonly socket: tls.TLSSocket;
  /** It carried an exchange before: an error before any answer may be the upstream's idle close. */
  reused: boolean;
  /** Nothing happened that leaves it unfit for another request (a 101, `Connection: close`, stray bytes). */
  reusable: boolean;
  /** Kept between this agent's messages (the pool may ask for it back). */
  parked: boolean;
  readonly tracker: ResponseTracker;
  /** To the upstream; the agent is paused while the upstream's buffer is full. */
  write(data: Buffer | string): void;
  /** To the agent; the upstream is paused while the agent's buffer is full. */
  relay(chunk: Buffer): void;
  /**
   * Stops reading the upstream until resumeReading with the same reason (a decoder that is full, or an answer that
   * must reach the agent before the bytes after it); the agent's own backpressure is a reason of its own.
   */
  pauseReading(reason: ReadPause): void;
  resumeReading(reason: ReadPause): void;
  /** Removes every listener and lifts every pause this lease set. */
  detach(): void;
}

export type ReadPause = 'decoder' | 'order';

export interface UpstreamLeaseHooks {
  client: tls.TLSSocket;
  pauseClient(): void;
  resumeClient(): void;
  /** Each chunk from the upstream (the hook relays it, then inspects it). */
  onData(chunk: Buffer): void;
  /** The upstream connection errored or closed. */
  onGone(err: Error | undefined): void;
  response: ResponseEvents;
  /**
   * The batch of writes under way, if one is: a lease holds its writes back and adds the function that sends them
   * (one socket write for the whole batch: no cork, no writev for the usual single head).
   */
  currentBatch(): (() => void)[] | undefined;
}

export function createUpstreamLease(pooled: PooledUpstream, hooks: UpstreamLeaseHooks): UpstreamLease {
  const { socket } = pooled;
  const { client } = hooks;
  let upstreamDrainPending = false;
  let clientDrainPending = false;
  const readPauses = new Set<ReadPause | 'agent'>();
  const pauseReading = (reason: ReadPause | 'agent'): void => {
    readPauses.add(reason);
    socket.pause();
  };
  const resumeReading = (reason: ReadPause | 'agent'): void => {
    if (!readPauses.delete(reason)) return;
    if (readPauses.size === 0) socket.resume();
  };
  const onUpstreamDrain = (): void => {
    upstreamDrainPending = false;
    hooks.resumeClient();
  };
  const onClientDrain = (): void => {
    clientDrainPending = false;
    resumeReading('agent');
  };
  /** Writes held for the batch under way (undefined when none is). */
  let held: (Buffer | string)[] | undefined;
  const send = (data: Buffer | string): void => {
    const ok = typeof data === 'string' ? socket.write(data, 'latin1') : socket.write(data);
    if (!ok && !upstreamDrainPending) {
      upstreamDrainPending = true;
      hooks.pauseClient();
      socket.once('drain', onUpstreamDrain);
    }
  };
  const flushHeld = (): void => {
    const parts = held;
    if (parts === undefined) return;
    held = undefined;
    if (socket.destroyed) return;
    if (parts.length === 1) send(parts[0]!);
    else send(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p))));
  };
  const onData = (chunk: Buffer): void => hooks.onData(chunk);
  const onError = (err: Error): void => hooks.onGone(err);
  const onClose = (): void => hooks.onGone(undefined);
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('close', onClose);

  return {
    socket,
    reused: pooled.reused,
    reusable: true,
    parked: false,
    tracker: createResponseTracker(hooks.response),
    write(data) {
      const batch = hooks.currentBatch();
      if (batch === undefined) {
        send(data);
      } else if (held === undefined) {
        held = [data];
        batch.push(flushHeld);
      } else {
        held.push(data);
      }
    },
    relay(chunk) {
      if (!client.write(chunk) && !clientDrainPending) {
        clientDrainPending = true;
        pauseReading('agent');
        client.once('drain', onClientDrain);
      }
    },
    pauseReading,
    resumeReading,
    detach() {
      // Writes held for a batch belong to this lease's exchange: they go before anything a later lessee writes.
      flushHeld();
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (upstreamDrainPending) {
        socket.off('drain', onUpstreamDrain);
        upstreamDrainPending = false;
        hooks.resumeClient();
      }
      if (clientDrainPending) {
        client.off('drain', onClientDrain);
        clientDrainPending = false;
      }
      if (readPauses.size > 0) {
        readPauses.clear();
        socket.resume();
      }
    },
  };
}

// Joins two sockets both ways (the sandbox's bridges: loopback ↔ Unix socket ↔ proxy port); when one side
// ends or fails, the other is closed too, so neither leaks a half-open connection.
import type { Socket } from 'node:net';

export function relaySockets(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  for (const [one, other] of [
    [a, b],
    [b, a],
  ] as const) {
    one.once('error', () => other.destroy());
    one.once('close', () => other.destroy());
  }
}

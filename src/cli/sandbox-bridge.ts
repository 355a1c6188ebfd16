// Runs inside the `authsome run --sandbox` namespaces as the command's parent. The namespace has a loopback and
// nothing else: this listens on 127.0.0.1:<proxy port> there (so HTTPS_PROXY stays valid) and relays each
// connection to the run's Unix socket, which the CLI outside joins to the real proxy. It holds no secret.
// Usage: node sandbox-bridge.js <unix-socket> <port> -- <command> [args…]
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { constants } from 'node:os';
import { errors, type AppError } from '../errors.js';
import { relaySockets } from './socket-relay.js';

const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function fail(err: AppError, code: number): never {
  process.stderr.write(`Error: ${err.message}\n${err.hint ? `Hint: ${err.hint}\n` : ''}`);
  process.exit(code);
}

const [socketPath, portText, separator, command, ...rest] = process.argv.slice(2);
const port = Number(portText);
if (!socketPath || !Number.isInteger(port) || separator !== '--' || !command) {
  fail(errors.internal('The sandbox bridge was started without its socket, port and command.'), 1);
}

const server = createServer((client) => relaySockets(client, connect(socketPath)));
server.once('error', (err) =>
  fail(errors.internal(`The sandbox could not listen on 127.0.0.1:${port}: ${err.message}`), 1),
);
// The command starts only once the proxy port answers inside: its first request must not meet a refused connection.
server.listen(port, '127.0.0.1', () => {
  const child = spawn(command, rest, { stdio: 'inherit' });
  // The sandbox is a session of its own (no terminal signal reaches it): every signal here was forwarded by `run`.
  for (const signal of FORWARDED) process.on(signal, () => child.kill(signal));
  child.once('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') fail(errors.commandNotFound(command), 127);
    if (err.code === 'EACCES') fail(errors.commandNotExecutable(command), 126);
    fail(errors.internal(`Could not start ${command}: ${err.message}`), 1);
  });
  child.once('exit', (code, signal) => {
    server.close();
    process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
  });
});

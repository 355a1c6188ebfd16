// Bench floor (its own process): the least a proxy that terminates TLS on both sides can do. It accepts TLS with the
// upstream's own certificate, opens one TLS connection to the upstream per client connection, and pipes decrypted
// bytes both ways: no CONNECT, no HTTP parsing, no routing, no credential, no audit. What authsome adds on top of the
// cost this relay measures is what its own code costs; what the relay costs is the machine's and Node's.
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';

interface RelayConfig {
  cert: string;
  key: string;
  upstreamPort: number;
  upstreamCa: string;
}

const config = JSON.parse(process.env.BENCH_RELAY_CONFIG ?? '{}') as RelayConfig;
const upstreamContext = tls.createSecureContext({ ca: config.upstreamCa });

const server = tls.createServer({ cert: config.cert, key: config.key }, (client) => {
  client.setNoDelay(true);
  const upstream = tls.connect({
    host: '127.0.0.1',
    port: config.upstreamPort,
    servername: client.servername || 'api.openai.com',
    secureContext: upstreamContext,
  });
  upstream.setNoDelay(true); // tls.connect ignores a noDelay option
  client.pipe(upstream).pipe(client);
  const close = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
  client.on('close', close);
  upstream.on('close', close);
});
server.on('connection', (socket) => socket.setNoDelay(true));

server.listen(0, '127.0.0.1', () => {
  process.send?.({ type: 'ready', port: (server.address() as AddressInfo).port });
});

process.on('message', (msg: { type: string }) => {
  if (msg.type === 'cpu') process.send?.({ type: 'cpu', usage: process.cpuUsage() });
  else if (msg.type === 'exit') process.exit(0);
});

// A hostile child of `authsome run`: it tries every way around the proxy that the sandbox must close, and prints
// what each attempt got as JSON: { files: {path: 'read' | code}, connect: {name: 'connected' | code}, unix: {path: …},
// dns: … }. Argument: a JSON object { home, serverPid, webPort, upstreamPort, unixSockets? }.
import { readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { lookup, resolve4 } from 'node:dns/promises';

const { home, serverPid, webPort, upstreamPort, unixSockets = [] } = JSON.parse(process.argv[2]);
const attempt = (fn) => {
  try {
    fn();
    return 'read';
  } catch (err) {
    return err.code ?? String(err);
  }
};
const files = {};
for (const path of [
  `${home}/master.key`,
  `${home}/vault.json`,
  `${home}/server/token`,
  `/proc/${serverPid}/root${home}/master.key`,
]) {
  files[path] = attempt(() => readFileSync(path));
}
const tryConnect = (port) =>
  new Promise((resolve) => {
    const socket = typeof port === 'string' ? connect(port) : connect(port, '127.0.0.1');
    socket.setTimeout(5000, () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err) => resolve(err.code));
  });
const settle = (p) =>
  p.then(
    () => 'resolved',
    (err) => err.code ?? String(err),
  );
const out = {
  homeEntries: readdirSync(home),
  files,
  connect: { api: await tryConnect(webPort), upstream: await tryConnect(upstreamPort) },
  unix: Object.fromEntries(await Promise.all(unixSockets.map(async (path) => [path, await tryConnect(path)]))),
  dns: { lookup: await settle(lookup('api.openai.com')), resolve4: await settle(resolve4('example.com')) },
};
process.stdout.write(JSON.stringify(out));

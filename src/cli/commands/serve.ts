// `authsome serve`: runs the server in the foreground (the background daemon is this same command, detached).
import { defineCommand } from 'citty';
import { errors } from '../../errors.js';
import { loadPackageVersion, LOOPBACK_HOST, resolveHomeDir, resolvePort } from '../../paths.js';
import { createRuntime } from '../../runtime.js';
import { parseDuration } from '../duration.js';
import { getOutput } from '../output.js';

export default defineCommand({
  meta: { name: 'serve', description: 'Run the authsome server (web pages, API, proxy) in the foreground.' },
  args: {
    port: {
      type: 'string',
      description: 'Port for the web server (0 = any free port; default AUTHSOME_PORT or 7998)',
      valueHint: 'port',
    },
    host: {
      type: 'string',
      description: 'Address to bind (default 127.0.0.1; anything else is reachable from other machines)',
      valueHint: 'addr',
    },
    'proxy-port': {
      type: 'string',
      description: 'Port for the HTTPS proxy (default: any free port)',
      valueHint: 'port',
    },
    'lock-after': {
      type: 'string',
      description: 'Lock a passphrase vault after this long unused (e.g. 15m)',
      valueHint: 'duration',
    },
  },
  async run({ args }) {
    const out = getOutput();
    const port = args.port !== undefined ? parsePort(args.port, '--port') : resolvePortFromEnv();
    const proxyPort = args['proxy-port'] !== undefined ? parsePort(args['proxy-port'], '--proxy-port') : undefined;
    const host = args.host ?? LOOPBACK_HOST;
    if (host !== LOOPBACK_HOST && host !== 'localhost' && host !== '::1') {
      out.warn(
        `Listening on ${host}: other machines that can reach this address can reach authsome's pages and ` +
          'API (they still need a token). Use this only on a network you trust.',
      );
    }
    const lockAfterMs =
      args['lock-after'] !== undefined ? parseDuration(args['lock-after'], '--lock-after') : undefined;

    let stopping = false;
    const stop = async (code: number) => {
      if (stopping) return;
      stopping = true;
      await runtime.close();
      out.info('authsome server stopped.');
      process.exit(code);
    };
    const runtime = await createRuntime({
      home: resolveHomeDir(),
      port,
      host,
      proxyPort,
      lockAfterMs,
      passphrase: process.env.AUTHSOME_PASSPHRASE || undefined,
      proxyResolve: process.env.AUTHSOME_PROXY_RESOLVE || undefined,
      onShutdownRequested: () => void stop(0),
      log: (line) => process.stderr.write(`${line}\n`),
    });
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(0));

    const vault = runtime.vault.status();
    out.info(`authsome ${loadPackageVersion()} listening on ${runtime.url} (pid ${process.pid})`);
    out.info(
      `Proxy on 127.0.0.1:${runtime.proxyPort}. Home: ${runtime.paths.home}; vault ${vault.mode}, ${vault.state}.`,
    );
    if (vault.error) out.warn(`${vault.error.message}${vault.error.hint ? ` ${vault.error.hint}` : ''}`);
    await new Promise<never>(() => {});
  },
});

function parsePort(text: string, flag: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65535)
    throw errors.usage(`Invalid port '${text}' for ${flag}.`, 'Use a number from 0 to 65535 (0 = any free port).');
  return n;
}

function resolvePortFromEnv(): number {
  try {
    return resolvePort();
  } catch {
    throw errors.usage(
      `Invalid AUTHSOME_PORT '${process.env.AUTHSOME_PORT}'.`,
      'Set it to a number from 0 to 65535, or unset it for 7998.',
    );
  }
}

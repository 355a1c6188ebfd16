// `authsome daemon start|stop|restart|status|logs`: manage the background server by hand.
import { readFile } from 'node:fs/promises';
import { defineCommand } from 'citty';
import { checkHealth, findRecordedServer, startServer, stopServer } from '../../client/server-process.js';
import { errors } from '../../errors.js';
import { buildHomePaths, loadPackageVersion, resolveHomeDir } from '../../paths.js';
import { getOutput } from '../output.js';
import { escapeTerminalText } from '../terminal-text.js';

const paths = () => buildHomePaths(resolveHomeDir());

async function start(): Promise<void> {
  const out = getOutput();
  const version = loadPackageVersion();
  const running = findRecordedServer(paths());
  if (running && running.state.version === version && (await checkHealth(running.state.url))) {
    out.confirm(`authsome is already running (pid ${running.state.pid}) on ${running.state.url}`, {
      running: true,
      pid: running.state.pid,
      url: running.state.url,
    });
    return;
  }
  if (running) await stopServer(paths());
  const started = await startServer(paths(), version, {
    env: process.env,
    onProgress: (m) => out.info(m),
    onWarning: (m) => out.warn(m),
  });
  out.confirm(`Started authsome (pid ${started.state.pid}) at ${started.state.url}.`, {
    running: true,
    pid: started.state.pid,
    url: started.state.url,
  });
}

async function stop(): Promise<void> {
  const out = getOutput();
  const stopped = await stopServer(paths());
  if (!stopped) out.confirm('authsome is not running.', { running: false });
  else out.confirm(`Stopped authsome (pid ${stopped.pid}).`, { running: false, pid: stopped.pid });
}

export default defineCommand({
  meta: { name: 'daemon', description: 'Manage the background authsome server.' },
  subCommands: {
    start: defineCommand({
      meta: { name: 'start', description: 'Start the server in the background (no-op when running)' },
      run: start,
    }),
    stop: defineCommand({ meta: { name: 'stop', description: 'Stop the background server' }, run: stop }),
    restart: defineCommand({
      meta: { name: 'restart', description: 'Stop, then start the server' },
      async run() {
        await stop();
        await start();
      },
    }),
    status: defineCommand({
      meta: { name: 'status', description: 'Print "running (pid N) at <url>" (exit 0) or "not running" (exit 1)' },
      async run() {
        const out = getOutput();
        const running = findRecordedServer(paths());
        const health = running ? await checkHealth(running.state.url) : undefined;
        if (running && health) {
          out.result(
            {
              running: true,
              pid: running.state.pid,
              url: running.state.url,
              version: health.version,
              proxy_port: running.state.proxy_port,
            },
            () => `running (pid ${running.state.pid}) at ${running.state.url}`,
          );
          return;
        }
        out.result({ running: false }, () => 'not running');
        process.exitCode = 1;
      },
    }),
    logs: defineCommand({
      meta: { name: 'logs', description: "Print the end of the server's log file" },
      args: { lines: { type: 'string', alias: 'n', description: 'How many lines (default 50)', valueHint: 'N' } },
      async run({ args }) {
        const n = args.lines === undefined ? 50 : Number(args.lines);
        if (!Number.isInteger(n) || n < 1)
          throw errors.usage(`Invalid line count '${args.lines}'.`, 'Use a whole number, e.g. -n 100.');
        const logPath = paths().serverLog;
        let text = '';
        try {
          text = await readFile(logPath, 'utf8');
        } catch {
          getOutput().info(`No server log yet (${logPath}).`);
          return;
        }
        const lines = text.split('\n');
        if (lines.at(-1) === '') lines.pop();
        getOutput().result({ path: logPath, lines: lines.slice(-n) }, () =>
          lines.slice(-n).map(escapeTerminalText).join('\n'),
        );
      },
    }),
  },
});

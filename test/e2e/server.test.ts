// The background server as a user meets it: auto-start, daemon start/stop/status, one server per home,
// a busy port, AUTHSOME_NO_AUTOSTART, and a server of another version being replaced.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isPidAlive } from '../../src/server-state.js';
import { makeTempHome, readServerState, runCli, spawnCli, type TempHome } from '../helpers/cli.js';

function occupyPort(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer(() => {});
    server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as { port: number }).port }));
  });
}

describe('server lifecycle', () => {
  let t: TempHome;
  const cli = (args: string[], env?: NodeJS.ProcessEnv, input?: string) => runCli(t.home, args, { env, input });

  beforeEach(() => {
    t = makeTempHome();
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('daemon status/start/stop', async () => {
    const none = await cli(['daemon', 'status']);
    expect(none).toMatchObject({ code: 1, stdout: 'not running\n' });
    const started = await cli(['daemon', 'start']);
    expect(started.code).toBe(0);
    const state = readServerState(t.home)!;
    expect(started.stdout).toBe(`Started authsome (pid ${state.pid}) at ${state.url}.\n`);
    const status = await cli(['daemon', 'status']);
    expect(status).toMatchObject({ code: 0, stdout: `running (pid ${state.pid}) at ${state.url}\n` });
    const json = JSON.parse((await cli(['daemon', 'status', '--json'])).stdout);
    expect(json).toMatchObject({ v: 1, running: true, pid: state.pid, url: state.url });
    expect(Object.keys(json)[0]).toBe('v');
    const again = await cli(['daemon', 'start']);
    expect(again.stdout).toBe(`authsome is already running (pid ${state.pid}) on ${state.url}\n`);
    const stopped = await cli(['daemon', 'stop']);
    expect(stopped).toMatchObject({ code: 0, stdout: `Stopped authsome (pid ${state.pid}).\n` });
    expect(isPidAlive(state.pid)).toBe(false);
    expect(readServerState(t.home)).toBeUndefined();
    expect((await cli(['daemon', 'status'])).code).toBe(1);
  });

  it('a second serve on the same home refuses to start (exit 1)', async () => {
    await cli(['daemon', 'start']);
    const state = readServerState(t.home)!;
    const second = await cli(['serve']);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`authsome is already running (pid ${state.pid}) on ${state.url}`);
    expect(isPidAlive(state.pid)).toBe(true);
  });

  it('AUTHSOME_NO_AUTOSTART=1 without a server → exit 9, nothing started', async () => {
    const r = await cli(['list'], { AUTHSOME_NO_AUTOSTART: '1' });
    expect(r.code).toBe(9);
    expect(r.stderr).toMatch(
      new RegExp(
        '^Error: The authsome server is not available: it is not running and AUTHSOME_NO_AUTOSTART is set\\.' +
          '\\nHint: .*daemon start',
      ),
    );
    expect(readServerState(t.home)).toBeUndefined();
  });

  it('a port taken by another program: the error names the port and AUTHSOME_PORT', async () => {
    const { server, port } = await occupyPort();
    try {
      const r = await cli(['list'], { AUTHSOME_PORT: String(port) });
      expect(r.code).toBe(9);
      expect(r.stderr).toContain(`Error: Port ${port} on 127.0.0.1 is already in use by another program.`);
      expect(r.stderr).toMatch(/^Hint: .*AUTHSOME_PORT/m);
      const fg = await cli(['serve', '--port', String(port)]);
      expect(fg.code).toBe(1);
      expect(fg.stderr).toContain(`Port ${port} on 127.0.0.1 is already in use`);
    } finally {
      server.close();
    }
  });

  it('a recorded server of another version is stopped and replaced', async () => {
    // A stand-in "old server": a live process recorded in state.json with another version.
    const old = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    const oldExited = new Promise((r) => old.once('exit', r));
    await new Promise((r) => old.once('spawn', r));
    (await import('node:fs')).mkdirSync(join(t.home, 'server'), { recursive: true, mode: 0o700 });
    writeFileSync(
      join(t.home, 'server', 'state.json'),
      JSON.stringify({
        pid: old.pid,
        version: '0.0.1-old',
        url: 'http://127.0.0.1:1',
        proxy_port: null,
        started_at: new Date().toISOString(),
      }),
    );
    writeFileSync(join(t.home, 'server', 'token'), 'stale');
    const r = await cli(['list']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('Restarting the authsome server (version 0.0.1-old');
    // The old server was told to stop: it exits (the test times out otherwise).
    await oldExited;
    expect(old.exitCode !== null || old.signalCode !== null).toBe(true);
    expect(readServerState(t.home)!.version).toBe(
      JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version,
    );
  });

  it('a server that died is restarted by the next command (stale state and lock)', async () => {
    await cli(['login', 'openai'], undefined, 'sk-restart0123456789abcdefghijklm\n');
    const state = readServerState(t.home)!;
    process.kill(state.pid, 'SIGKILL');
    for (const deadline = Date.now() + 5_000; isPidAlive(state.pid) && Date.now() < deadline; )
      await new Promise((r) => setTimeout(r, 10));
    expect(isPidAlive(state.pid)).toBe(false);
    const r = await cli(['get', 'openai', '--field', 'status']);
    expect(r).toMatchObject({ code: 0, stdout: 'connected\n' });
    expect(readServerState(t.home)!.pid).not.toBe(state.pid);
  });

  it('serve in the foreground stops cleanly on SIGTERM and removes its state', async () => {
    const child = spawnCli(t.home, ['serve']);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    for (let i = 0; i < 100 && !readServerState(t.home); i++) await new Promise((r) => setTimeout(r, 50));
    expect(readServerState(t.home)?.pid).toBe(child.pid);
    expect(stderr).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+/);
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    expect(readServerState(t.home)).toBeUndefined();
  });
});

// Run sessions: per-run proxy secrets, Basic proxy auth, end and pid reaping.
import { describe, expect, it } from 'vitest';
import { createRunSessionRegistry, type RunSession } from '../../../src/proxy/run-sessions.js';

const basic = (user: string, token: string) => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;

describe('run session registry', () => {
  it('creates sessions with distinct ids and strong tokens, and finds them by id', () => {
    const reg = createRunSessionRegistry();
    const a = reg.create({ scope: [] });
    const b = reg.create({ scope: [], pid: process.pid });
    expect(a.id).not.toBe(b.id);
    expect(a.token).not.toBe(b.token);
    expect(a.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(reg.get(a.id)).toBe(a);
    expect(reg.list()).toEqual([a, b]);
    expect(b.pid).toBe(process.pid);
    expect(a.routes.entries).toEqual([]);
    reg.close();
  });

  it('authenticates Basic base64(authsome:<token>) and nothing else', () => {
    const reg = createRunSessionRegistry();
    const s = reg.create({ scope: [] });
    expect(reg.authenticate(basic('authsome', s.token))).toBe(s);
    expect(reg.authenticate(`basic   ${Buffer.from(`authsome:${s.token}`).toString('base64')}  `)).toBe(s);
    expect(reg.authenticate(undefined)).toBeUndefined();
    expect(reg.authenticate('')).toBeUndefined();
    expect(reg.authenticate(`Bearer ${s.token}`)).toBeUndefined();
    expect(reg.authenticate(basic('authsome', `${s.token}x`))).toBeUndefined();
    expect(reg.authenticate(basic('authsome', s.token.slice(1)))).toBeUndefined();
    expect(reg.authenticate(basic('authsome', ''))).toBeUndefined();
    expect(reg.authenticate(`Basic ${Buffer.from(s.token).toString('base64')}`)).toBeUndefined();
    expect(reg.authenticate('Basic !!!notbase64')).toBeUndefined();
    reg.close();
  });

  it('ends a session: its token stops working and onEnd says why', () => {
    const ended: [string, string][] = [];
    const reg = createRunSessionRegistry({ onEnd: (s, reason) => ended.push([s.id, reason]) });
    const s = reg.create({ scope: [] });
    expect(reg.end(s.id)).toBe(true);
    expect(reg.end(s.id)).toBe(false);
    expect(reg.get(s.id)).toBeUndefined();
    expect(reg.authenticate(basic('authsome', s.token))).toBeUndefined();
    expect(ended).toEqual([[s.id, 'ended']]);
    reg.close();
  });

  it('reaps sessions whose pid is gone, on an unref’ed timer', async () => {
    const alive = new Set([111]);
    const ended: [RunSession, string][] = [];
    const reg = createRunSessionRegistry({
      isPidAlive: (pid) => alive.has(pid),
      reapIntervalMs: 10,
      onEnd: (s, r) => ended.push([s, r]),
    });
    const keep = reg.create({ scope: [], pid: 111 });
    const gone = reg.create({ scope: [], pid: 222 });
    const noPid = reg.create({ scope: [] });
    // The reaper runs on its own timer: wait for what it does, not for a guessed time.
    await expect.poll(() => ended.map(([s, r]) => [s.id, r])).toEqual([[gone.id, 'pid_gone']]);
    expect(reg.list().map((s) => s.id)).toEqual([keep.id, noPid.id]);
    alive.delete(111);
    await expect.poll(() => reg.list().map((s) => s.id)).toEqual([noPid.id]);
    reg.close();
  });

  it('the default liveness check sees this process alive and a dead child gone', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => child.once('exit', r));
    const ended: string[] = [];
    const reg = createRunSessionRegistry({ reapIntervalMs: 10, onEnd: (s) => ended.push(s.id) });
    const self = reg.create({ scope: [], pid: process.pid });
    const dead = reg.create({ scope: [], pid: child.pid! });
    await expect.poll(() => ended).toEqual([dead.id]);
    expect(reg.get(self.id)).toBe(self);
    reg.close();
  });
});

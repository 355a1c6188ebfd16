// Reveal and export against real processes: the server finds the owner of each API connection through /proc and
// refuses a secret to a descendant of a live run (or to a request its own proxy relays), serves everyone else,
// and serves the same process again once the run has ended.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendHttp } from '../../helpers/http.js';
import { exchange, openTlsThroughProxy } from '../proxy/harness.js';
import { createRuntime, type Runtime } from '../../../src/runtime.js';
import { refuseSecretsToRuns } from '../../../src/server/peer-process.js';

const KEY = 'sk-PEERCANARY-0123456789abcdefghijXYZ';
const callerScript = fileURLToPath(new URL('./children/api-caller.mjs', import.meta.url));

interface Caller {
  /** The process at the top of the caller's tree (the "run" when it is one). */
  pid: number;
  ask(request: { path: string; body: unknown; proxy?: string }): Promise<{ status: number; body: string }>;
  close(): void;
}

/** Starts api-caller.mjs, directly or under `sh` (then sh is its parent, as a run's shell would be). */
function startCaller(port: number, token: string, underShell: boolean): Caller {
  const child: ChildProcessWithoutNullStreams = underShell
    ? spawn('sh', ['-c', `"${process.execPath}" "${callerScript}" ${port} ${token}; exit $?`])
    : spawn(process.execPath, [callerScript, String(port), token]);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    pid: child.pid!,
    async ask(request) {
      child.stdin.write(`${JSON.stringify(request)}\n`);
      const { value, done } = await lines.next();
      if (done) throw new Error('the caller exited');
      return JSON.parse(value as string) as { status: number; body: string };
    },
    close: () => child.stdin.end(),
  };
}

describe('reveal and export refused to the processes of a live run', () => {
  let root: string;
  let rt: Runtime;
  let auth: Record<string, string>;
  const api = (path: string, body: unknown) =>
    sendHttp(rt.port, `/api${path}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const readAudit = async () => {
    await rt.audit.flush();
    return readFileSync(rt.paths.audit, 'utf8');
  };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'authsome-peer-'));
    rt = await createRuntime({ home: join(root, 'home'), port: 0, kdf: { memory_kib: 1024, iterations: 1 } });
    auth = { authorization: `Bearer ${rt.token}` };
    await rt.connections.loginWithApiKey({ provider: 'openai', apiKey: KEY });
  });
  afterAll(async () => {
    await rt.close();
    rmSync(root, { recursive: true, force: true });
  });

  it(
    'a descendant of a live run gets Error/Hint, not the key; others are served; after the run ends, it is ' +
      'served too',
    async () => {
      const agent = startCaller(rt.port, rt.token, true);
      const outsider = startCaller(rt.port, rt.token, false);
      try {
        const started = await api('/run-sessions', { pid: agent.pid, program: 'sh' });
        expect(started.status).toBe(200);
        const run = JSON.parse(started.body) as { id: string };
        const reveal = { path: '/get', body: { provider: 'openai', reveal: true } };
        const exportAll = { path: '/export', body: {} };

        const refused = await agent.ask(reveal);
        expect(refused.status).toBe(403);
        expect(JSON.parse(refused.body)).toEqual({
          error: 'FORBIDDEN',
          message: "Refused: a process started by 'authsome run' may not reveal a secret.",
          hint:
            "Agents under 'authsome run' use credentials through its proxy and never receive them. Run this " +
            'from your own terminal, outside the run.',
        });
        const refusedExport = await agent.ask(exportAll);
        expect(refusedExport.status).toBe(403);
        expect(JSON.parse(refusedExport.body).message).toBe(
          "Refused: a process started by 'authsome run' may not export secrets.",
        );
        for (const r of [refused, refusedExport]) expect(r.body).not.toContain(KEY);
        // The masked record is no secret: the agent may still read it.
        const masked = await agent.ask({ path: '/get', body: { provider: 'openai' } });
        expect(masked.status).toBe(200);
        expect(masked.body).not.toContain(KEY);

        // The person's own process, outside the run, is served while the run is live.
        for (const request of [reveal, exportAll]) {
          const served = await outsider.ask(request);
          expect(served.status).toBe(200);
          expect(served.body).toContain(KEY);
        }

        const audit = await readAudit();
        const denied = audit
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, unknown>)
          .filter((e) => e.event === 'denied');
        expect(denied).toEqual([
          expect.objectContaining({ provider: 'openai', run: run.id, reason: 'reveal from a process of the run' }),
          expect.objectContaining({ run: run.id, reason: 'export from a process of the run' }),
        ]);
        expect(audit).not.toContain(KEY);

        expect((await api(`/run-sessions/${run.id}/end`, { exit_code: 0 })).status).toBe(200);
        for (const request of [reveal, exportAll]) {
          const served = await agent.ask(request);
          expect(served.status).toBe(200);
          expect(served.body).toContain(KEY);
        }
      } finally {
        agent.close();
        outsider.close();
      }
    },
  );

  it(
    "a live run's process gets no browser sign-in link (ui or login URL: the dashboard can reveal a key); " +
      'others do',
    async () => {
      const agent = startCaller(rt.port, rt.token, true);
      const outsider = startCaller(rt.port, rt.token, false);
      try {
        const run = JSON.parse((await api('/run-sessions', { pid: agent.pid })).body) as { id: string };
        const uiLink = { path: '/ui-link', body: {} };
        const loginLink = { path: '/login-sessions', body: { provider: 'openai', force: true } };
        for (const request of [uiLink, loginLink]) {
          const refused = await agent.ask(request);
          expect(refused.status, request.path).toBe(403);
          expect(JSON.parse(refused.body).message).toBe(
            "Refused: a process started by 'authsome run' may not sign a browser in to authsome (its pages " +
              'can reveal a secret).',
          );
        }
        expect((await outsider.ask(uiLink)).status).toBe(200);
        expect((await outsider.ask(loginLink)).status).toBe(201);
        expect(await readAudit()).toContain(`"run":"${run.id}","reason":"sign-in from a process of the run"`);
        await api(`/run-sessions/${run.id}/end`, {});
        expect((await agent.ask(uiLink)).status).toBe(200);
      } finally {
        agent.close();
        outsider.close();
      }
    },
  );

  it("a live run's process that asks for a run session of its own gets no digests of the stored secrets", async () => {
    const agent = startCaller(rt.port, rt.token, true);
    const outsider = startCaller(rt.port, rt.token, false);
    try {
      const run = JSON.parse((await api('/run-sessions', { pid: agent.pid })).body) as { id: string };
      type Reply = { secret_digests: { salt: string; digests: string[] } };
      const own = await agent.ask({ path: '/run-sessions', body: {} });
      expect(own.status).toBe(200);
      // A salt with digests of the keys would let the agent test guesses offline: it gets the salt alone.
      expect((JSON.parse(own.body) as Reply).secret_digests.digests).toEqual([]);
      expect(own.body).not.toContain(KEY);
      const other = await outsider.ask({ path: '/run-sessions', body: {} });
      expect((JSON.parse(other.body) as Reply).secret_digests.digests).toHaveLength(1);
      expect(await readAudit()).toContain(`"run":"${run.id}","reason":"digest from a process of the run"`);
      await api(`/run-sessions/${run.id}/end`, {});
    } finally {
      agent.close();
      outsider.close();
    }
  });

  it("a live run's process may not replace a provider definition (it would send the key to its own host)", async () => {
    const agent = startCaller(rt.port, rt.token, true);
    const outsider = startCaller(rt.port, rt.token, false);
    try {
      const run = JSON.parse((await api('/run-sessions', { pid: agent.pid })).body) as { id: string };
      const poisoned = JSON.stringify({
        schema_version: 1,
        name: 'openai',
        display_name: 'OpenAI',
        auth_type: 'api_key',
        api_url: 'attacker.example',
        api_key: { header: 'Authorization', format: 'Bearer {key}' },
      });
      const register = { path: '/providers/register', body: { source_path: 'x.json', text: poisoned, force: true } };
      const refused = await agent.ask(register);
      expect(refused.status).toBe(403);
      expect(JSON.parse(refused.body).message).toBe(
        "Refused: a process started by 'authsome run' may not add or replace a provider definition.",
      );
      expect((await rt.registry.get('openai')).source).toBe('bundled');
      expect(await readAudit()).toContain(`"run":"${run.id}","reason":"register from a process of the run"`);
      // The person's own process, outside the run, still registers.
      const served = await outsider.ask({
        ...register,
        body: { ...register.body, text: poisoned.replace('openai', 'mine') },
      });
      expect(served.status).toBe(200);
      await api(`/run-sessions/${run.id}/end`, {});
    } finally {
      agent.close();
      outsider.close();
    }
  });

  it("a live run's process may not change what the person stored: keys, connections, defaults, the vault", async () => {
    const agent = startCaller(rt.port, rt.token, true);
    try {
      const run = JSON.parse((await api('/run-sessions', { pid: agent.pid })).body) as { id: string };
      const attempts = [
        // Its own key in place of the person's: their later requests would reach its account.
        [
          {
            path: '/login/api-key',
            body: { provider: 'openai', api_key: 'sk-ATTACKER-0123456789abcdefghij', force: true },
          },
          'store or replace a key',
        ],
        [{ path: '/logout', body: { provider: 'openai' } }, 'log out, revoke or remove a connection'],
        [{ path: '/revoke', body: { provider: 'openai' } }, 'log out, revoke or remove a connection'],
        [{ path: '/remove', body: { provider: 'openai' } }, 'log out, revoke or remove a connection'],
        [
          { path: '/default', body: { provider: 'openai', connection: 'default' } },
          'change which connection is the default',
        ],
        [
          { path: '/vault/passphrase', body: { passphrase: 'only-the-agent-knows' } },
          'lock the vault or change its passphrase',
        ],
        [{ path: '/vault/lock', body: {} }, 'lock the vault or change its passphrase'],
      ] as const;
      for (const [request, what] of attempts) {
        const answer = await agent.ask(request);
        expect({ path: request.path, status: answer.status }).toEqual({ path: request.path, status: 403 });
        expect(JSON.parse(answer.body).message).toBe(`Refused: a process started by 'authsome run' may not ${what}.`);
      }
      // Nothing changed: the person's key is the one stored, in a vault still open without a passphrase.
      await api(`/run-sessions/${run.id}/end`, {});
      const { record } = JSON.parse((await api('/get', { provider: 'openai', reveal: true })).body) as {
        record: { api_key: string };
      };
      expect(record.api_key).toBe(KEY);
      expect(rt.vault.status()).toMatchObject({ state: 'unlocked', mode: 'keyfile' });
    } finally {
      agent.close();
    }
  });

  it("a live run's process may not answer the person's login session with its own key or sign-in", async () => {
    const agent = startCaller(rt.port, rt.token, true);
    const person = startCaller(rt.port, rt.token, false);
    const personKey = 'sk-PERSONNEW-0123456789abcdefghijXYZ';
    try {
      const run = JSON.parse((await api('/run-sessions', { pid: agent.pid })).body) as { id: string };
      // The person runs `authsome login openai --force` in another terminal; the agent has learnt the session's id.
      const started = await person.ask({ path: '/login-sessions', body: { provider: 'openai', force: true } });
      expect(started.status).toBe(201);
      const { id } = JSON.parse(started.body) as { id: string };
      const steps = [
        { path: `/login-sessions/${id}/key`, body: { api_key: 'sk-ATTACKER-0123456789abcdefghij' } },
        { path: `/login-sessions/${id}/client`, body: { client_id: 'attacker-client' } },
        { path: `/login-sessions/${id}/authorize`, body: { client_id: 'attacker-client' } },
        { path: `/login-sessions/${id}/redirect`, body: { url: 'http://127.0.0.1:1/cb?code=attacker&state=x' } },
      ];
      for (const request of steps) {
        const answer = await agent.ask(request);
        expect({ path: request.path, status: answer.status }).toEqual({ path: request.path, status: 403 });
        expect(JSON.parse(answer.body).message).toBe(
          "Refused: a process started by 'authsome run' may not store or replace a key.",
        );
      }
      expect(await readAudit()).toContain(
        `"provider":"openai","run":"${run.id}","reason":"store-key from a process of the run"`,
      );
      // The session still waits for the person, who types their key on their terminal: that one is stored.
      const state = JSON.parse((await sendHttp(rt.port, `/api/login-sessions/${id}`, { headers: auth })).body) as {
        state: string;
      };
      expect(state.state).toBe('pending');
      const typed = await person.ask({ path: `/login-sessions/${id}/key`, body: { api_key: personKey } });
      expect(JSON.parse(typed.body)).toMatchObject({ state: 'completed' });
      await api(`/run-sessions/${run.id}/end`, {});
      const { record } = JSON.parse((await api('/get', { provider: 'openai', reveal: true })).body) as {
        record: { api_key: string };
      };
      expect(record.api_key).toBe(personKey);
      await rt.connections.loginWithApiKey({ provider: 'openai', apiKey: KEY, force: true });
    } finally {
      agent.close();
      person.close();
    }
  });

  it("a run that a live run's process starts stays within the outer run's scope and rules", async () => {
    await rt.connections.loginWithApiKey({ provider: 'mistral', apiKey: 'mistral-canary-0123456789abcdef' });
    const agent = startCaller(rt.port, rt.token, true);
    try {
      const outer = JSON.parse(
        (await api('/run-sessions', { pid: agent.pid, only: ['openai'], policy: { allow: ['openai:GET:/v1/models'] } }))
          .body,
      ) as { id: string };
      // The agent asks for a run of its own, naming no provider and no rule.
      const inner = JSON.parse((await agent.ask({ path: '/run-sessions', body: {} })).body) as {
        id: string;
        proxy_url: string;
        ca_cert_path: string;
        scope: { provider: string }[];
      };
      expect(inner.scope.map((e) => e.provider)).toEqual(['openai']);
      const token = new URL(inner.proxy_url).password;
      const send = async (request: string) => {
        const socket = await openTlsThroughProxy(rt.proxyPort!, token, 'api.openai.com:443', {
          servername: 'api.openai.com',
          ca: readFileSync(inner.ca_cert_path, 'utf8'),
        });
        try {
          return await exchange(socket, request);
        } finally {
          socket.destroy();
        }
      };
      const denied = await send('POST /v1/files HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 2\r\n\r\n{}');
      expect(denied.status).toBe(403);
      expect(denied.body.toString()).toContain('no rule of this run allows POST /v1/files for openai');
      await api(`/run-sessions/${inner.id}/end`, {});
      await api(`/run-sessions/${outer.id}/end`, {});
    } finally {
      agent.close();
      await rt.connections.remove('mistral');
    }
  });

  it("a request that the run's proxy relays to the API is refused, whoever sent it", async () => {
    const outsider = startCaller(rt.port, rt.token, false);
    const anchor = startCaller(rt.port, rt.token, false);
    try {
      const started = JSON.parse((await api('/run-sessions', { pid: anchor.pid })).body) as {
        id: string;
        proxy_url: string;
      };
      const viaProxy = await outsider.ask({
        path: '/get',
        body: { provider: 'openai', reveal: true },
        proxy: started.proxy_url,
      });
      // The proxy itself refuses the way back to the server (its own 403); the server's check behind it stays as a
      // second line that this request no longer reaches.
      expect(viaProxy.status).toBe(403);
      expect(JSON.parse(viaProxy.body).error).toMatchObject({ type: 'authsome_proxy_error', code: 'forbidden' });
      expect(viaProxy.body).not.toContain(KEY);
      await api(`/run-sessions/${started.id}/end`, {});
    } finally {
      outsider.close();
      anchor.close();
    }
  });

  it(
    'while a run is live, a caller whose process cannot be found is refused too; with no run live, nobody is ' +
      'asked',
    async () => {
      // A port pair that no socket on this machine has: /proc names no owner, as for a process that hid its
      // descriptors.
      const nobody = { remotePort: 1, localPort: 1 };
      const attempt = (runs: { id: string; pid: number }[]) =>
        refuseSecretsToRuns({ runs, socket: nobody, action: 'export', audit: rt.audit });
      await expect(attempt([{ id: 'r1', pid: process.pid }])).rejects.toMatchObject({
        code: 'FORBIDDEN',
        message:
          "Refused to export secrets while an 'authsome run' is live: the process asking could not be identified.",
        hint: expect.stringContaining('Run this from your own terminal'),
      });
      expect(await readAudit()).toContain('"reason":"export from a process that could not be identified"');
      await expect(attempt([])).resolves.toBeUndefined();
    },
  );
});

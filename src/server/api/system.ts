// /api system routes: status (whoami), the audit log, vault lock/unlock/passphrase, shutdown.
import { Hono } from 'hono';
import type { ServerDeps } from '../deps.js';
import { describePeer, refuseSecretsToRuns } from '../peer-process.js';
import type { WebState } from '../web-state.js';
import { readJsonBody, requireString } from './body.js';

export function createSystemApi(deps: ServerDeps, web: WebState): Hono {
  const api = new Hono();

  api.get('/status', (c) => {
    const info = deps.info();
    const vault = deps.vault.status();
    let connections: number | null = null;
    if (vault.state === 'unlocked') connections = deps.vault.list('connection:').length;
    return c.json({
      version: deps.version,
      home: deps.paths.home,
      url: info.url,
      pid: info.pid,
      proxy_port: info.proxyPort,
      started_at: info.startedAt,
      vault: {
        path: vault.path,
        mode: vault.mode,
        state: vault.state,
        ...(vault.error ? { error: vault.error.toJSON() } : {}),
      },
      connections,
    });
  });

  api.get('/audit', async (c) => {
    const limit = Math.min(Math.max(Number(c.req.query('limit') ?? 20) || 20, 1), 10_000);
    return c.json({ entries: await deps.audit.readRecent(limit) });
  });

  api.get('/audit/verify', async (c) => c.json(await deps.auditChain.verify()));

  api.post('/vault/unlock', async (c) => {
    const passphrase = requireString(await readJsonBody(c), 'passphrase');
    await web.unlockThrottle.attempt(() => deps.vault.unlock(passphrase));
    deps.audit.record('unlock');
    return c.json({ state: deps.vault.status().state });
  });

  api.post('/vault/lock', async (c) => {
    // A run's process could lock the person out, or set a passphrase only it knows: the vault is theirs to change.
    await refuseSecretsToRuns({ ...describePeer(c, deps), action: 'change-vault' });
    deps.vault.lock();
    deps.audit.record('lock');
    return c.json({ state: deps.vault.status().state });
  });

  api.post('/vault/passphrase', async (c) => {
    const body = await readJsonBody(c);
    await refuseSecretsToRuns({ ...describePeer(c, deps), action: 'change-vault' });
    const passphrase = requireString(body, 'passphrase');
    if (body.action === 'remove') {
      await deps.vault.removePassphrase(passphrase);
      deps.audit.record('passphrase_removed');
    } else {
      await deps.vault.setPassphrase(passphrase);
      deps.audit.record('passphrase_set');
    }
    return c.json({ mode: deps.vault.status().mode });
  });

  api.post('/shutdown', (c) => {
    deps.requestShutdown();
    return c.json({ stopping: true }, 202);
  });

  return api;
}

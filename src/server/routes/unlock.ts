// /unlock and /lock: the passphrase form for a locked vault (SPEC §4, §6), and locking it again from the header.
// Pages redirect here while the vault is locked and go back where they were once it opens.
import { Hono } from 'hono';
import { AppError } from '../../errors.js';
import type { ServerDeps } from '../deps.js';
import { redirect, safeNext, type Renderer } from '../render.js';
import type { WebEnv } from '../web-state.js';

export function createUnlockRoutes(deps: ServerDeps, render: Renderer): Hono<WebEnv> {
  const app = new Hono<WebEnv>();

  app.get('/unlock', (c) => {
    const next = safeNext(c.req.query('next'));
    if (deps.vault.status().state !== 'locked') return c.redirect(next, 303);
    return render.page(c, 'unlock', { title: 'Unlock the vault', data: { next, vaultPath: deps.vault.status().path } });
  });

  app.post('/unlock', async (c) => {
    const body = await c.req.parseBody();
    const next = safeNext(typeof body.next === 'string' ? body.next : undefined);
    if (deps.vault.status().state !== 'locked') return redirect(c, next);
    try {
      await deps.vault.unlock(typeof body.passphrase === 'string' ? body.passphrase : '');
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'WRONG_PASSPHRASE') throw err;
      const error = { message: err.message, hint: err.hint };
      return render.page(c, 'unlock', { title: 'Unlock the vault', data: { next, vaultPath: deps.vault.status().path, error }, status: 422 });
    }
    deps.audit.record('unlock');
    return redirect(c, next);
  });

  app.post('/lock', (c) => {
    deps.vault.lock();
    deps.audit.record('lock');
    return redirect(c, '/unlock');
  });
  return app;
}

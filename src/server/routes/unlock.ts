// /unlock and /lock: the passphrase form for a locked vault, paused after repeated wrong passphrases,
// and locking it again from the header.
// Pages redirect here while the vault is locked and go back where they were once it opens.
import { Hono } from 'hono';
import { AppError } from '../../errors.js';
import type { ServerDeps } from '../deps.js';
import { HTTP_STATUS } from '../error-status.js';
import { redirect, safeNext, type Renderer } from '../render.js';
import type { WebEnv, WebState } from '../web-state.js';

export function createUnlockRoutes(deps: ServerDeps, web: WebState, render: Renderer): Hono<WebEnv> {
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
    const passphrase = typeof body.passphrase === 'string' ? body.passphrase : '';
    try {
      await web.unlockThrottle.attempt(() => deps.vault.unlock(passphrase));
    } catch (err) {
      if (!(err instanceof AppError) || (err.code !== 'WRONG_PASSPHRASE' && err.code !== 'TOO_MANY_ATTEMPTS'))
        throw err;
      const error = { message: err.message, hint: err.hint };
      const status = err.code === 'TOO_MANY_ATTEMPTS' ? HTTP_STATUS.TOO_MANY_ATTEMPTS : 422;
      return render.page(c, 'unlock', {
        title: 'Unlock the vault',
        data: { next, vaultPath: deps.vault.status().path, error },
        status,
      });
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

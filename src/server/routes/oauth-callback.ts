// /auth/callback: where an OAuth provider sends the browser back (the exact redirect URI
// http://127.0.0.1:<port>/auth/callback). Answered on the loopback host itself, without the page-host redirect
// or a browser session: the `state` (single use, 256 bits) is what ties the answer to a login authsome started.
import { Hono } from 'hono';
import { errors, isAppError } from '../../errors.js';
import type { ServerDeps } from '../deps.js';
import { OAUTH_SUBMITTER } from '../login-sessions.js';
import { createRenderer } from '../render.js';
import type { WebEnv, WebState } from '../web-state.js';
import { buildLoginLinkNotice } from './sign-in.js';

export function createOAuthCallbackRoutes(deps: ServerDeps, web: WebState): Hono<WebEnv> {
  const render = createRenderer(deps);
  const app = new Hono<WebEnv>();

  app.get('/auth/callback', async (c) => {
    const query = (name: string) => c.req.query(name) ?? undefined;
    const pending = deps.oauth.takeAuthorization(query('state') ?? '');
    const session = web.logins.get(pending.loginSessionId);
    if (!session || session.state !== 'pending') return render.notice(c, buildLoginLinkNotice(session), 410);
    try {
      const result = await deps.oauth.finishPkce(pending, { code: query('code'), error: query('error'), error_description: query('error_description') });
      if (!result.stored) {
        web.logins.cancel(session.id);
        return render.notice(c, { title: 'Already connected', message: `${session.provider} (${session.connection}) was connected meanwhile; nothing was changed.`, tone: 'warn' }, 409);
      }
    } catch (err) {
      // The waiting CLI prints the same error the page shows.
      web.logins.fail(session.id, isAppError(err) ? err : errors.internal());
      throw err;
    }
    web.logins.complete(session.id, OAUTH_SUBMITTER);
    return render.page(c, 'login-done', { title: 'Logged in', data: { done: { provider: session.provider, connection: session.connection, origin: session.origin } } });
  });

  app.onError((err, c) => render.error(c, err));
  return app;
}

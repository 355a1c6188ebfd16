// /auth/callback: where an OAuth provider sends the browser back (the exact redirect URI
// http://127.0.0.1:<port>/auth/callback). Answered on the loopback host itself, without the page-host redirect
// or a browser session: the `state` (single use, 256 bits) is what ties the answer to a login authsome started.
import { Hono } from 'hono';
import type { ServerDeps } from '../deps.js';
import { finishAuthorization } from '../login-flow.js';
import { createRenderer } from '../render.js';
import type { WebEnv, WebState } from '../web-state.js';

export function createOAuthCallbackRoutes(deps: ServerDeps, web: WebState): Hono<WebEnv> {
  const render = createRenderer(deps);
  const app = new Hono<WebEnv>();

  app.get('/auth/callback', async (c) => {
    // A HEAD (a link checker, a prefetch) must not use up the single-use state of a login in progress.
    if (c.req.method === 'HEAD') return c.body(null, 200);
    const query = (name: string) => c.req.query(name) ?? undefined;
    const pending = deps.oauth.takeAuthorization(query('state') ?? '');
    const session = await finishAuthorization(deps, web, pending, {
      code: query('code'),
      error: query('error'),
      error_description: query('error_description'),
      iss: query('iss'),
    });
    return render.page(c, 'login-done', {
      title: 'Logged in',
      data: { done: { provider: session.provider, connection: session.connection, origin: session.origin } },
    });
  });

  app.onError((err, c) => render.error(c, err));
  return app;
}

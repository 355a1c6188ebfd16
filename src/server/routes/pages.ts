// The browser pages as one Hono app, and the order of their guards: body limit, loopback names → the pages' own
// host (before any token is redeemed or cookie set), Origin (state-changing requests),
// one-time token sign-in, browser session, CSRF, then "locked vault → /unlock"; then the page groups.
// Mounted after /health, /api and /static, whose handlers always answer, so none of this runs for them.
import { Hono, type Context } from 'hono';
import { createBodyLimit } from '../body-limit.js';
import type { ServerDeps } from '../deps.js';
import {
  createCsrfGuard,
  createOriginGuard,
  createPageHostRedirect,
  createSessionGuard,
  type Refuse,
} from '../guards.js';
import { buildReturnPath, createRenderer, isHtmx, redirect, type Renderer } from '../render.js';
import type { WebEnv, WebState } from '../web-state.js';
import { createActivityRoutes } from './activity.js';
import { createCatalogRoutes } from './catalog.js';
import { createDashboardRoutes } from './dashboard.js';
import { createLoginRoutes } from './login.js';
import { createOverrideRoutes } from './override.js';
import { createProviderRoutes } from './provider.js';
import { buildExpiredLinkNotice, createSignIn } from './sign-in.js';
import { createUnlockRoutes } from './unlock.js';

export function createPages(deps: ServerDeps, web: WebState): Hono<WebEnv> {
  const render = createRenderer(deps);
  const refuse = buildRefuse(render);
  const pages = new Hono<WebEnv>();

  pages.use(
    '*',
    createBodyLimit<Context<WebEnv>>((c, err) => render.error(c, err)),
  );
  pages.use('*', createPageHostRedirect(web.pageOrigin));
  pages.use('*', createOriginGuard(refuse));
  pages.use('*', createSignIn(web, render));
  pages.use('*', createSessionGuard(web.sessions, web.cookieName, refuse));
  pages.use('*', createCsrfGuard(web.sessions, refuse));
  pages.use('*', async (c, next) => {
    const locked = deps.vault.status().state === 'locked';
    if (locked && c.req.method === 'GET' && !c.req.path.startsWith('/unlock')) {
      return redirect(c, `/unlock?next=${encodeURIComponent(buildReturnPath(c))}`);
    }
    await next();
  });

  pages.route('/', createDashboardRoutes(deps, render));
  pages.route('/', createCatalogRoutes(deps, render));
  pages.route('/', createOverrideRoutes(deps, render));
  pages.route('/', createProviderRoutes(deps, web, render));
  pages.route('/', createLoginRoutes(deps, web, render));
  pages.route('/', createActivityRoutes(deps, web, render));
  pages.route('/', createUnlockRoutes(deps, web, render));
  pages.all('*', (c) =>
    render.notice(
      c,
      {
        title: 'Page not found',
        message: `There is no page at ${c.req.path}.`,
        links: [{ href: '/', label: 'Back to the dashboard' }],
      },
      404,
    ),
  );
  pages.onError((err, c) => render.error(c, err));
  return pages;
}

function buildRefuse(render: Renderer): Refuse {
  return (c, kind) => {
    if (kind === 'session') {
      // An htmx request from a page whose session ended: reload, so the whole page says what to do.
      if (isHtmx(c)) c.header('HX-Refresh', 'true');
      return render.notice(
        c,
        {
          ...buildExpiredLinkNotice(),
          tone: 'info',
          icon: 'terminal',
          title: 'Open authsome from your terminal',
          message: 'This page needs a browser session, and this browser does not have one (or it has ended).',
          hint: 'Run this in a terminal; it opens the dashboard signed in:',
        },
        401,
      );
    }
    if (kind === 'origin') {
      return render.notice(
        c,
        {
          title: 'Request refused',
          message: 'This request came from another site, so authsome refused it. Nothing was changed.',
          tone: 'error',
        },
        403,
      );
    }
    return render.notice(
      c,
      {
        title: 'This form has expired',
        message:
          'The form was missing its security token, or it belongs to an older browser session. Nothing was changed.',
        hint: 'Reload the page and try again.',
        tone: 'error',
        links: [{ href: '/', label: 'Back to the dashboard' }],
      },
      403,
    );
  };
}

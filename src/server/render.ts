// One URL, page or fragment: render() returns the bare partial when htmx asks (HX-Request),
// the partial inside layout.eta otherwise. Every value is HTML-escaped by eta; only rendered partials go in raw.
// Also maps AppErrors to rendered pages/fragments with the catalogue's HTTP status: never a JSON body here.
import type { Context } from 'hono';
import { Eta } from 'eta';
import { formatExpiry } from '../expiry.js';
import { packagePaths } from '../paths.js';
import type { ServerDeps } from './deps.js';
import { HTTP_STATUS, toShownError } from './error-status.js';
import {
  describeEvent,
  formatEventTime,
  formatRelative,
  formatTimestamp,
  maskSecret,
  pickAvatarTone,
} from './format.js';
import type { WebEnv } from './web-state.js';

export type Nav = 'dashboard' | 'providers' | 'activity' | 'none';

export interface PageInput {
  title: string;
  nav?: Nav;
  data?: Record<string, unknown>;
  status?: number;
}

/** A page that only explains something: refusals, the friendly "run it again" pages, errors. */
export interface Notice {
  title: string;
  message: string;
  hint?: string;
  /** A command to run, shown as code with a copy button. */
  command?: string;
  tone?: 'info' | 'ok' | 'warn' | 'error';
  /** An icon name from partials/_icon.eta (default: the tone's). */
  icon?: string;
  links?: { href: string; label: string }[];
}

export interface Renderer {
  page(c: Context<WebEnv>, view: string, input: PageInput): Response;
  /** Always the bare partial (for a swap target smaller than the page's main partial). */
  fragment(c: Context<WebEnv>, view: string, data?: Record<string, unknown>, status?: number): Response;
  notice(c: Context<WebEnv>, notice: Notice, status: number): Response;
  /** An AppError (or anything else) as a page, or as a message in #flash for an htmx request. */
  error(c: Context<WebEnv>, err: unknown): Response;
}

// htmx 2 configuration (read from the meta tag, so no inline script): no eval (CSP), no injected <style> and no
// copied style attributes (CSP style-src 'self'), no page snapshots in sessionStorage (a revealed secret must
// not outlive its page), and swap 4xx answers too: a rejected form comes back as 422 re-rendered.
const HTMX_CONFIG = JSON.stringify({
  allowEval: false,
  allowScriptTags: false,
  includeIndicatorStyles: false,
  attributesToSettle: ['class', 'width', 'height'],
  historyCacheSize: 0,
  refreshOnHistoryMiss: true,
  historyRestoreAsHxRequest: false,
  selfRequestsOnly: true,
  responseHandling: [
    { code: '204', swap: false },
    { code: '[234]..', swap: true },
    { code: '...', swap: true, error: true },
  ],
});

export const formatters = {
  mask: maskSecret,
  relative: (iso: string | undefined) => formatRelative(iso),
  expiry: (iso: string) => formatExpiry(iso),
  timestamp: formatTimestamp,
  eventTime: formatEventTime,
  event: describeEvent,
  avatar: pickAvatarTone,
};

export function isHtmx(c: Context): boolean {
  return c.req.header('hx-request') === 'true' && c.req.header('hx-history-restore-request') !== 'true';
}

export function createRenderer(deps: ServerDeps): Renderer {
  const eta = new Eta({ views: packagePaths.views, autoEscape: true, cache: true });

  function common(c: Context<WebEnv>): Record<string, unknown> {
    const session = c.get('session');
    const vault = deps.vault.status();
    return {
      signedIn: session !== undefined,
      csrf: session?.csrf ?? '',
      vault: { mode: vault.mode, state: vault.state },
      version: deps.version,
      serverUrl: deps.info().url,
      fmt: formatters,
    };
  }

  function html(c: Context<WebEnv>, body: string, status: number): Response {
    return c.html(body, status as 200);
  }

  const renderer: Renderer = {
    page(c, view, { title, nav = 'none', data = {}, status = 200 }) {
      const it = { ...common(c), ...data };
      const partial = eta.render(`partials/_${view}`, it);
      if (isHtmx(c)) return html(c, partial, status);
      const session = c.get('session');
      const flash = session?.flash;
      if (session) delete session.flash;
      return html(
        c,
        eta.render('layout', { ...it, title, nav, flash, htmxConfig: HTMX_CONFIG, body: partial }),
        status,
      );
    },

    fragment(c, view, data = {}, status = 200) {
      return html(c, eta.render(`partials/_${view}`, { ...common(c), ...data }), status);
    },

    notice(c, notice, status) {
      return renderer.page(c, 'notice', { title: notice.title, data: { notice: { tone: 'info', ...notice } }, status });
    },

    error(c, err) {
      const shown = toShownError(err, c.req.method, c.req.path);
      const status = HTTP_STATUS[shown.code];
      if (shown.code === 'VAULT_LOCKED') return redirect(c, `/unlock?next=${encodeURIComponent(buildReturnPath(c))}`);
      if (isHtmx(c)) {
        c.header('HX-Retarget', '#flash');
        c.header('HX-Reswap', 'innerHTML');
        return renderer.fragment(
          c,
          'flash',
          { flash: { kind: 'error', text: shown.message, hint: shown.hint } },
          status,
        );
      }
      return renderer.notice(
        c,
        {
          title: titleFor(status),
          message: shown.message,
          hint: shown.hint,
          tone: 'error',
          links: [{ href: '/', label: 'Back to the dashboard' }],
        },
        status,
      );
    },
  };
  return renderer;
}

/** POST → 303 for forms without JavaScript; htmx follows HX-Redirect instead of swapping the next page in. */
export function redirect(c: Context, location: string): Response {
  if (isHtmx(c)) {
    c.header('HX-Redirect', location);
    return c.body(null, 200);
  }
  return c.redirect(location, 303);
}

/**
 * Where to come back to after /unlock: the page itself for a plain GET, the page htmx was on for an htmx
 * request (never the fragment or action URL it called), the dashboard otherwise.
 */
export function buildReturnPath(c: Context): string {
  if (isHtmx(c)) {
    try {
      const current = new URL(c.req.header('hx-current-url') ?? '');
      return safeNext(current.pathname + current.search);
    } catch {
      return '/';
    }
  }
  if (c.req.method !== 'GET') return '/';
  const url = new URL(c.req.url);
  return safeNext(url.pathname + url.search);
}

const SAME_ORIGIN_BASE = 'http://authsome.invalid';

/**
 * Only a local path may be a redirect target taken from a request. Checked the way a browser reads it: the URL
 * parser drops tabs and newlines and reads '\\' as '/', so `/\t/evil.com` is `//evil.com`, another site. The
 * answer is the parsed path (never the raw string), so no control character ever reaches a Location header.
 */
export function safeNext(value: string | undefined): string {
  if (!value?.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  let url: URL;
  try {
    url = new URL(value, SAME_ORIGIN_BASE);
  } catch {
    return '/';
  }
  const path = url.pathname + url.search;
  if (url.origin !== SAME_ORIGIN_BASE || !path.startsWith('/') || path.startsWith('//') || path.startsWith('/unlock'))
    return '/';
  return path;
}

function titleFor(status: number): string {
  if (status === 404) return 'Not found';
  if (status === 401 || status === 403) return 'Not allowed';
  if (status >= 500) return 'Something went wrong';
  return 'That did not work';
}

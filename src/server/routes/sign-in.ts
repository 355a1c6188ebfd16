// The one way into the pages: `GET <path>?token=<one-time token>` from `authsome ui` or `authsome login`.
// A valid token is consumed, becomes an HttpOnly SameSite=Strict host-only session cookie (or refreshes the sign-in
// time of the browser's session), and the browser is sent to the clean path so the token stays out of history.
// A used or expired token opens nothing.
import type { MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { buildRedirectPage } from '../../redirect-page.js';
import { TERMINAL_SUBMITTER, type LoginSession } from '../login-sessions.js';
import type { Notice, Renderer } from '../render.js';
import type { WebEnv, WebState } from '../web-state.js';

const LOGIN_PATH = /^\/login\/([A-Za-z0-9_-]+)$/;

export function createSignIn(web: WebState, render: Renderer): MiddlewareHandler<WebEnv> {
  return async (c, next) => {
    const token = c.req.query('token');
    // Only GET redeems: a HEAD (a link preview, a cheap probe) must neither burn the token nor use it.
    if (token === undefined || c.req.method !== 'GET') return next();
    const path = c.req.path;
    const grant = web.tokens.redeem(token, path);
    const current = web.sessions.lookup(getCookie(c, web.cookieName()));
    const loginId = LOGIN_PATH.exec(path)?.[1];
    if (!grant) {
      // A login link works once, whoever opens it again; a stale dashboard link in a signed-in browser is harmless.
      if (loginId !== undefined) return render.notice(c, buildLoginLinkNotice(web.logins.get(loginId)), 410);
      if (current) return c.redirect(path, 303);
      return render.notice(c, buildExpiredLinkNotice(), 401);
    }
    if (current) {
      web.sessions.markSignedIn(current);
    } else {
      const { cookieValue } = web.sessions.create();
      // No Domain attribute: the cookie goes back to this exact host only, never to a sibling name or 127.0.0.1.
      setCookie(c, web.cookieName(), cookieValue, { httpOnly: true, sameSite: 'Strict', path: '/' });
    }
    // A navigation another site started (the CLI's launcher file is one: file:// is never same-site) carries no
    // SameSite=Strict cookie, and neither do the redirects that follow it. A page of ours moving on by itself starts
    // a same-origin navigation, which does.
    const site = c.req.header('sec-fetch-site');
    if (site !== undefined && site !== 'same-origin' && site !== 'none') return c.html(buildContinuePage(path));
    return c.redirect(path, 303);
  };
}

/** Pure: a script-free page that moves on to `path` at once (meta refresh), with a link for a browser that does not. */
export function buildContinuePage(path: string): string {
  return buildRedirectPage(path, {
    title: 'Signing in · authsome',
    head: ['<link rel="stylesheet" href="/static/app.css">'],
  });
}

export function buildExpiredLinkNotice(): Notice {
  return {
    title: 'This link has expired',
    message: 'Dashboard links work once, for two minutes, so that nobody else can reuse them.',
    hint: 'Run this in a terminal to open a fresh one:',
    command: 'authsome ui',
    tone: 'warn',
  };
}

/** The friendly page for a login link that was used, cancelled or left too long. */
export function buildLoginLinkNotice(session: LoginSession | undefined): Notice {
  const command = session ? buildLoginCommand(session) : 'authsome login <provider>';
  const why: Record<string, [string, string]> = {
    completed: [
      'This login link has already been used',
      'Each login link works once, and this one already saved a key.',
    ],
    cancelled: ['This login was cancelled', 'The terminal that asked for this login stopped waiting for it.'],
    expired: ['This login link has expired', 'Login links are valid for five minutes.'],
    failed: ['This login failed', 'The sign-in did not finish, and nothing was stored.'],
    pending: ['This login link has already been used', 'Each login link works once.'],
  };
  if (session?.state === 'completed' && session.completedBy === TERMINAL_SUBMITTER) {
    return {
      title: 'The key was entered in the terminal',
      message: 'This login was finished in the terminal, so this form is closed. Nothing more to do here.',
      tone: 'ok',
    };
  }
  const [title, message] = why[session?.state ?? 'expired'] ?? why.expired!;
  return {
    title,
    message: `${message} Run the login again to get a new link.`,
    hint: 'In your terminal:',
    command,
    tone: 'warn',
  };
}

export function buildLoginCommand(session: Pick<LoginSession, 'provider' | 'connection' | 'force'>): string {
  return [
    `authsome login ${session.provider}`,
    session.connection !== 'default' ? ` --connection ${session.connection}` : '',
    session.force ? ' --force' : '',
  ].join('');
}

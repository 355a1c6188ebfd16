// The web pages' security rules over real sockets: Host allowlist, one-time URL tokens and
// the session cookie, CSRF, Origin, headers, the API token and the page cookie kept apart, and no secret in any
// page unless a person asked to reveal it. Every refusal is also checked to have stored nothing.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendHttp, type Reply, type SendOptions } from '../../helpers/http.js';
import { createRuntime, type Runtime } from '../../../src/runtime.js';

/** Pages are served on authsome.localhost (their cookie stays there); the CLI's /api stays on 127.0.0.1. */
const PAGE_HOST = (port: number) => `authsome.localhost:${port}`;
const send = (port: number, path: string, options: SendOptions = {}) =>
  sendHttp(
    port,
    path,
    path.startsWith('/api/') ? options : { ...options, headers: { host: PAGE_HOST(port), ...options.headers } },
  );

const KDF = { memory_kib: 1024, iterations: 1 };
const CANARY = 'sk-CANARYweb0123456789abcdefXYZ_secret';
const CANARY_TEAM = 'sk-CANARYteam0123456789abcdefQQQ_secret';
const canaryForms = (s: string) => [
  s,
  Buffer.from(s).toString('base64'),
  Buffer.from(s).toString('base64url'),
  Buffer.from(s).toString('hex'),
];
const encodeForm = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = 'application/x-www-form-urlencoded';

/** A browser session as a client sees it: its cookie header and its CSRF token (read from the page). */
interface BrowserLogin {
  cookie: string;
  csrf: string;
}

function createClient(rt: Runtime) {
  const api = async (method: string, path: string, body?: unknown) => {
    const r = await send(rt.port, `/api${path}`, {
      method,
      headers: { authorization: `Bearer ${rt.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: r.status, json: JSON.parse(r.body) as Record<string, string> };
  };
  const pathOf = (url: string) => url.slice(url.indexOf('/', 'http://'.length));
  const readCookie = (r: Reply) => {
    const set = ([] as string[]).concat(r.headers['set-cookie'] ?? []);
    expect(set).toHaveLength(1);
    return set[0]!;
  };
  const readCsrf = (html: string) => {
    const m = /hx-headers="\{&quot;X-CSRF-Token&quot;:&quot;([A-Za-z0-9_-]+)&quot;\}"/.exec(html);
    expect(m, 'the page carries the CSRF token').not.toBeNull();
    return m![1]!;
  };
  async function signIn(): Promise<BrowserLogin> {
    const { json } = await api('POST', '/ui-link');
    const r = await send(rt.port, pathOf(json.url!));
    expect(r.status).toBe(303);
    const cookie = readCookie(r).split(';')[0]!;
    const page = await send(rt.port, '/', { headers: { cookie } });
    expect(page.status).toBe(200);
    return { cookie, csrf: readCsrf(page.body) };
  }
  const page = (b: BrowserLogin, path: string, extra: SendOptions = {}) =>
    send(rt.port, path, { ...extra, headers: { cookie: b.cookie, ...extra.headers } });
  const post = (b: BrowserLogin, path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    send(rt.port, path, {
      method: 'POST',
      headers: { cookie: b.cookie, 'content-type': FORM, ...headers },
      body: encodeForm(fields),
    });
  return { api, pathOf, readCookie, readCsrf, signIn, page, post };
}

describe('web security', () => {
  let root: string;
  let rt: Runtime;
  let client: ReturnType<typeof createClient>;
  /** Login sessions, once for each long-poll that parked on them. */
  const parked: string[] = [];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'authsome-web-'));
    rt = await createRuntime({
      home: join(root, 'home'),
      port: 0,
      kdf: KDF,
      web: { onLoginParked: (id) => parked.push(id) },
    });
    client = createClient(rt);
    expect((await client.api('POST', '/login/api-key', { provider: 'openai', api_key: CANARY })).status).toBe(200);
    expect(
      (await client.api('POST', '/login/api-key', { provider: 'openai', connection: 'team', api_key: CANARY_TEAM }))
        .status,
    ).toBe(200);
  });
  afterAll(async () => {
    await rt.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('a foreign Host is refused on pages, static files and login links (403), signed in or not', async () => {
    const b = await client.signIn();
    for (const host of [
      'evil.example',
      `evil.example:${rt.port}`,
      `127.0.0.1:${rt.port + 1}`,
      'localhost',
      'authsome.localhost',
      `authsome.localhost:${rt.port + 1}`,
      `evil.authsome.localhost:${rt.port}`,
    ]) {
      for (const path of [
        '/',
        '/providers',
        '/providers/openai',
        '/static/app.css',
        '/login/abc?token=xyz',
        '/unlock',
      ]) {
        const r = await send(rt.port, path, { headers: { host, cookie: b.cookie } });
        expect(r.status, `${host} ${path}`).toBe(403);
      }
      const post = await send(rt.port, '/providers/openai/override', {
        method: 'POST',
        headers: { host, cookie: b.cookie, 'content-type': FORM },
        body: encodeForm({ _csrf: b.csrf, definition: '{}' }),
      });
      expect(post.status).toBe(403);
    }
    for (const host of [`authsome.localhost:${rt.port}`, `AUTHSOME.localhost:${rt.port}`]) {
      expect((await send(rt.port, '/', { headers: { host, cookie: b.cookie } })).status, host).toBe(200);
    }
  });

  it('without a session cookie every page is a 401 HTML page that says to run authsome ui', async () => {
    for (const path of [
      '/',
      '/providers',
      '/providers/openai',
      '/providers/openai/override',
      '/activity',
      '/unlock',
      '/login/whatever',
      '/no-such-page',
    ]) {
      const r = await send(rt.port, path);
      expect(r.status, path).toBe(401);
      expect(r.headers['content-type']).toMatch(/^text\/html/);
      expect(r.body).toContain('authsome ui');
      expect(r.body).not.toContain(CANARY);
    }
    const post = await send(rt.port, '/providers/openai/connections/default/logout', {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: '',
    });
    expect(post.status).toBe(401);
    expect(rt.vault.list('connection:openai:')).toHaveLength(2);
    // Static files need no session (the 401 page itself is styled).
    expect((await send(rt.port, '/static/app.css')).status).toBe(200);
    expect((await send(rt.port, '/static/htmx.min.js')).headers['content-type']).toMatch(/^text\/javascript/);
    // Only the listed files: no path from the request reaches the file system.
    for (const path of [
      '/static/../package.json',
      '/static/%2e%2e%2fpackage.json',
      '/static/..%2fpackage.json',
      '/static/icon.svg/..',
    ]) {
      const r = await send(rt.port, path);
      expect([401, 404], path).toContain(r.status);
      expect(r.body).not.toContain('"devDependencies"');
    }
  });

  it(
    'a one-time token signs in once: HttpOnly SameSite=Strict cookie, redirect to the clean URL; reused → ' + 'refused',
    async () => {
      const { json } = await client.api('POST', '/ui-link');
      expect(json.url).toMatch(new RegExp(`^http://authsome\\.localhost:${rt.port}/\\?token=[A-Za-z0-9_-]{43}$`));
      const first = await send(rt.port, client.pathOf(json.url!));
      expect(first.status).toBe(303);
      expect(first.headers.location).toBe('/');
      const cookie = client.readCookie(first);
      expect(cookie).toMatch(new RegExp(`^authsome_session_${rt.port}=[A-Za-z0-9_-]{43}; `));
      expect(cookie).toMatch(/; HttpOnly(;|$)/);
      expect(cookie).toMatch(/; SameSite=Strict(;|$)/);
      expect(cookie).toMatch(/; Path=\/(;|$)/);
      expect(cookie).not.toContain(json.url!.split('token=')[1]!);
      expect((await send(rt.port, '/', { headers: { cookie: cookie.split(';')[0]! } })).status).toBe(200);

      const reused = await send(rt.port, client.pathOf(json.url!));
      expect(reused.status).toBe(401);
      expect(reused.headers['set-cookie']).toBeUndefined();
      expect(reused.body).toContain('authsome ui');

      // A token opens only the path it was made for, and a made-up one opens nothing.
      const other = await client.api('POST', '/ui-link');
      const token = other.json.url!.split('token=')[1]!;
      for (const path of [`/providers?token=${token}`, `/?token=${token}x`, '/?token=', `/?token=${'A'.repeat(43)}`]) {
        const r = await send(rt.port, path);
        expect(r.status, path).toBe(401);
        expect(r.headers['set-cookie'], path).toBeUndefined();
      }
    },
  );

  it(
    'one-time tokens expire (dashboard and login links), ' + 'and an expired login link gets the friendly page',
    async () => {
      // The clock is the test's: the links expire when it moves, not after a sleep.
      let clock = Date.now();
      const short = await createRuntime({
        home: join(root, 'short'),
        port: 0,
        kdf: KDF,
        web: { tokenTtlMs: 150, loginTtlMs: 300, now: () => clock },
      });
      try {
        const c = createClient(short);
        const ui = await c.api('POST', '/ui-link');
        const login = await c.api('POST', '/login-sessions', { provider: 'openai' });
        expect(login.status).toBe(201);
        expect(login.json.url).toMatch(/\/login\/[A-Za-z0-9_-]+\?token=[A-Za-z0-9_-]{43}$/);
        clock += 450;
        const expired = await send(short.port, c.pathOf(ui.json.url!));
        expect(expired.status).toBe(401);
        expect(expired.headers['set-cookie']).toBeUndefined();
        const expiredLogin = await send(short.port, c.pathOf(login.json.url!));
        expect(expiredLogin.status).toBe(410);
        expect(expiredLogin.headers['set-cookie']).toBeUndefined();
        expect(expiredLogin.body).toContain('This login link has expired');
        expect(expiredLogin.body).toContain('authsome login openai');
        const state = await c.api('GET', `/login-sessions/${login.json.id}`);
        expect(state.json.state).toBe('expired');
      } finally {
        await short.close();
      }
    },
  );

  it(
    'the login link signs the browser in (dashboard too); its form takes the key once; a reused link is ' + 'refused',
    async () => {
      const created = await client.api('POST', '/login-sessions', { provider: 'openai', connection: 'viaweb' });
      const path = client.pathOf(created.json.url!);
      const first = await send(rt.port, path);
      expect(first.status).toBe(303);
      expect(first.headers.location).toBe(`/login/${created.json.id}`);
      const cookie = client.readCookie(first).split(';')[0]!;
      const form = await send(rt.port, `/login/${created.json.id}`, { headers: { cookie } });
      expect(form.status).toBe(200);
      expect(form.body).toContain('pattern="^sk-[A-Za-z0-9_\\-]{20,}$"');
      const b = { cookie, csrf: client.readCsrf(form.body) };
      expect((await client.page(b, '/')).status).toBe(200);

      // A rejected key: 422 with the form re-rendered as HTML, the exact text next to the field, never JSON.
      const bad = await client.post(b, `/login/${created.json.id}`, { _csrf: b.csrf, api_key: 'sk-nope' });
      expect(bad.status).toBe(422);
      expect(bad.headers['content-type']).toMatch(/^text\/html/);
      expect(bad.body).toContain('This does not look like a valid OpenAI API key.');
      expect(bad.body).toContain(
        'OpenAI API keys start with &#39;sk-&#39; followed by at least 20 letters, digits, &#39;_&#39; or &#39;-&#39;.',
      );
      expect(bad.body).not.toContain('sk-nope');
      const htmx = await client.post(
        b,
        `/login/${created.json.id}`,
        { api_key: 'sk-nope' },
        { 'hx-request': 'true', 'x-csrf-token': b.csrf },
      );
      expect(htmx.status).toBe(422);
      expect(htmx.body.trimStart()).toMatch(/^<section class="login" id="login">/); // the bare partial for htmx

      const good = await client.post(b, `/login/${created.json.id}`, {
        _csrf: b.csrf,
        api_key: 'sk-viaweb0123456789abcdefghijkl',
      });
      expect(good.status).toBe(303);
      expect(good.headers.location).toBe(`/login/${created.json.id}/done`);
      expect((await client.page(b, `/login/${created.json.id}/done`)).body).toContain(
        'Successfully logged in to openai (viaweb). You can close this window.',
      );
      expect((await client.api('GET', `/login-sessions/${created.json.id}`)).json.state).toBe('completed');

      const reused = await send(rt.port, path, { headers: { cookie } });
      expect(reused.status).toBe(410);
      expect(reused.body).toContain('authsome login openai --connection viaweb');
      const again = await client.post(b, `/login/${created.json.id}`, {
        _csrf: b.csrf,
        api_key: 'sk-second0123456789abcdefghijkl',
      });
      expect(again.status).toBe(410);
      expect(
        (await client.api('POST', '/get', { provider: 'openai', connection: 'viaweb', reveal: true })).json.record,
      ).toMatchObject({ api_key: 'sk-viaweb0123456789abcdefghijkl' });
    },
  );

  it('a state-changing page request without the right CSRF token is refused (403) and changes nothing', async () => {
    const b = await client.signIn();
    const other = await client.signIn();
    expect(other.csrf).not.toBe(b.csrf);
    const customFile = join(rt.paths.providers, 'openai.json');
    const definition = JSON.stringify({
      schema_version: 1,
      name: 'openai',
      display_name: 'Hijacked',
      auth_type: 'api_key',
      api_url: 'evil.example',
    });
    const created = await client.api('POST', '/login-sessions', { provider: 'openai', connection: 'csrf' });
    const auditBefore = (await rt.audit.readRecent(1000)).length;

    const attempts: [string, Record<string, string>][] = [
      ['/providers/openai/override', { definition }],
      ['/providers/openai/connections/team/logout', {}],
      ['/providers/openai/connections/team/default', {}],
      ['/providers/openai/connections/team/reveal', {}],
      [`/login/${created.json.id}`, { api_key: 'sk-csrf0123456789abcdefghijklmn' }],
      ['/providers/openai/connect', { connection: 'sneaky' }],
    ];
    for (const [path, fields] of attempts) {
      const variants: [string, Record<string, string>, Record<string, string>][] = [
        ['no token', fields, {}],
        ['wrong field', { ...fields, _csrf: 'wrong' }, {}],
        ['empty field', { ...fields, _csrf: '' }, {}],
        ['wrong header', fields, { 'x-csrf-token': 'wrong' }],
        ["another session's token", { ...fields, _csrf: other.csrf }, {}],
        ['right field, wrong header', { ...fields, _csrf: b.csrf }, { 'x-csrf-token': 'wrong' }],
        ['right header, wrong field', { ...fields, _csrf: 'wrong' }, { 'x-csrf-token': b.csrf }],
      ];
      for (const [what, body, headers] of variants) {
        const r = await client.post(b, path, body, headers);
        expect(r.status, `${path}: ${what}`).toBe(403);
        expect(r.headers['content-type']).toMatch(/^text\/html/);
        expect(r.body).not.toContain(CANARY_TEAM);
      }
    }
    expect(existsSync(customFile)).toBe(false);
    expect(rt.vault.list('connection:openai:').sort()).toEqual([
      'connection:openai:default',
      'connection:openai:team',
      'connection:openai:viaweb',
    ]);
    expect(rt.connections.resolveConnectionName('openai')).toBe('default');
    expect((await client.api('GET', `/login-sessions/${created.json.id}`)).json.state).toBe('pending');
    expect((await rt.audit.readRecent(1000)).length).toBe(auditBefore);

    // The same request with the session's token, as a header (htmx) or a field (plain form), goes through.
    const ok = await client.post(b, '/providers/openai/connections/team/default', {}, { 'x-csrf-token': b.csrf });
    expect(ok.status).toBe(303);
    expect(rt.connections.resolveConnectionName('openai')).toBe('team');
    const back = await client.post(b, '/providers/openai/connections/default/default', { _csrf: b.csrf });
    expect(back.status).toBe(303);
    expect(rt.connections.resolveConnectionName('openai')).toBe('default');
  });

  it(
    'a request from a foreign Origin is refused (403) ' + 'and changes nothing, even with cookie and CSRF token',
    async () => {
      const b = await client.signIn();
      const customFile = join(rt.paths.providers, 'openai.json');
      const definition = JSON.stringify({
        schema_version: 1,
        name: 'openai',
        display_name: 'Hijacked',
        auth_type: 'api_key',
        api_url: 'evil.example',
      });
      const foreign: Record<string, string>[] = [
        { origin: 'http://evil.example' },
        { origin: `http://127.0.0.1:${rt.port + 1}` },
        { origin: `https://127.0.0.1:${rt.port}` },
        { origin: 'null' },
        { 'sec-fetch-site': 'cross-site' },
        { 'sec-fetch-site': 'same-site' },
      ];
      for (const headers of foreign) {
        const save = await client.post(b, '/providers/openai/override', { _csrf: b.csrf, definition }, headers);
        expect(save.status, JSON.stringify(headers)).toBe(403);
        expect(save.body).toContain('came from another site');
        const logout = await client.post(b, '/providers/openai/connections/team/logout', { _csrf: b.csrf }, headers);
        expect(logout.status).toBe(403);
      }
      expect(existsSync(customFile)).toBe(false);
      expect(rt.vault.list('connection:openai:')).toContain('connection:openai:team');

      // Our own origin, the pages' host, is fine; a loopback name is not the pages' origin.
      const own = await client.post(
        b,
        '/providers/openai/override/validate',
        { _csrf: b.csrf, definition },
        { origin: `http://authsome.localhost:${rt.port}`, 'sec-fetch-site': 'same-origin' },
      );
      expect(own.status).toBe(200);
      const loopback = await client.post(
        b,
        '/providers/openai/override/validate',
        { _csrf: b.csrf, definition },
        { origin: `http://127.0.0.1:${rt.port}` },
      );
      expect(loopback.status).toBe(403);
    },
  );

  it('pages carry a strict CSP and the other protective headers; pages and API are never cached', async () => {
    const b = await client.signIn();
    const responses = [
      await client.page(b, '/'),
      await client.page(b, '/providers/openai'),
      await send(rt.port, '/'), // the 401 page
      await send(rt.port, '/static/app.js'),
    ];
    for (const r of responses) {
      const csp = String(r.headers['content-security-policy']);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(csp).not.toMatch(/https?:/); // no third-party origin
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['x-frame-options']).toBe('DENY');
      expect(r.headers['referrer-policy']).toMatch(/^(no-referrer|same-origin)$/);
      expect(r.headers['cache-control']).toBe('no-store');
    }
    for (const html of [responses[0]!.body, responses[1]!.body]) {
      expect(html).not.toMatch(/<script(?![^>]*\ssrc="\/static\/)/); // every script is a file of ours
      expect(html).not.toMatch(/\sstyle=/); // no inline style attribute
      expect(html).not.toMatch(/\son[a-z]+=/); // no inline event handler
      expect(html).not.toMatch(/(src|href)="(https?:)?\/\/(?!platform\.openai\.com)/); // nothing loaded from elsewhere
    }
    expect((await client.api('GET', '/status')).status).toBe(200);
    expect(
      (await send(rt.port, '/api/status', { headers: { authorization: `Bearer ${rt.token}` } })).headers[
        'cache-control'
      ],
    ).toBe('no-store');
  });

  it('the API token never opens a page (cookie or header), and the page cookie never opens /api', async () => {
    const b = await client.signIn();
    for (const headers of <Record<string, string>[]>[
      { cookie: `authsome_session_${rt.port}=${rt.token}` },
      { cookie: `token=${rt.token}; authsome=${rt.token}` },
      { authorization: `Bearer ${rt.token}` },
    ]) {
      const r = await send(rt.port, '/providers/openai', { headers });
      expect(r.status, JSON.stringify(headers)).toBe(401);
      expect(r.body).not.toContain(CANARY);
    }
    const sessionValue = b.cookie.split('=')[1]!;
    for (const headers of <Record<string, string>[]>[
      { cookie: b.cookie },
      { cookie: b.cookie, 'x-csrf-token': b.csrf },
      { authorization: `Bearer ${sessionValue}` },
    ]) {
      for (const path of ['/api/status', '/api/providers', '/api/ui-link']) {
        const r = await send(rt.port, path, { method: path === '/api/ui-link' ? 'POST' : 'GET', headers });
        expect(r.status, `${path} ${JSON.stringify(headers)}`).toBe(401);
      }
    }
    const get = await send(rt.port, '/api/get', {
      method: 'POST',
      headers: { cookie: b.cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ provider: 'openai', reveal: true }),
    });
    expect(get.status).toBe(401);
    expect(get.body).not.toContain(CANARY);
  });

  it(
    'no secret is in any page unless revealed; reveal ' + 'is a POST, audited, and only shows the one asked for',
    async () => {
      const b = await client.signIn();
      const created = await client.api('POST', '/login-sessions', { provider: 'openai', connection: 'canary-form' });
      const pages = [
        '/',
        '/providers',
        '/providers?show=connected',
        '/providers?q=openai',
        '/providers/openai',
        '/providers/openai/override',
        '/activity',
        '/activity/feed?since=0',
        `/login/${created.json.id}`,
        '/providers/openai/connections/default/secret',
        '/providers/openai/connections/team/secret',
        '/no-such-page',
      ];
      for (const path of pages) {
        for (const headers of <Record<string, string>[]>[{}, { 'hx-request': 'true' }]) {
          const r = await client.page(b, path, { headers });
          expect(r.status, path).toBeLessThan(500);
          for (const secret of [CANARY, CANARY_TEAM]) {
            for (const form of canaryForms(secret)) expect(r.body.includes(form), `${form} in ${path}`).toBe(false);
          }
        }
      }
      const page = await client.page(b, '/providers/openai');
      expect(page.body).toContain('sk-…cret');
      expect((await client.page(b, '/providers/openai/connections/team/reveal')).status).toBe(404); // never by GET

      const revealed = await client.post(
        b,
        '/providers/openai/connections/team/reveal',
        {},
        { 'hx-request': 'true', 'x-csrf-token': b.csrf },
      );
      expect(revealed.status).toBe(200);
      expect(revealed.body).toContain(CANARY_TEAM);
      expect(revealed.body).not.toContain(CANARY);
      const audit = await rt.audit.readRecent(1);
      expect(audit[0]).toMatchObject({ event: 'reveal', provider: 'openai', connection: 'team' });
      const noJs = await client.post(b, '/providers/openai/connections/default/reveal', { _csrf: b.csrf });
      expect(noJs.status).toBe(200);
      expect(noJs.body).toContain(CANARY);
      expect(noJs.body).not.toContain(CANARY_TEAM);
      // And it is gone again on the next load.
      expect((await client.page(b, '/providers/openai')).body).not.toContain(CANARY);
    },
  );

  it('a HEAD request never redeems a one-time token: the link still signs in afterwards', async () => {
    const { json } = await client.api('POST', '/ui-link');
    for (let i = 0; i < 3; i++) {
      const head = await send(rt.port, client.pathOf(json.url!), { method: 'HEAD' });
      expect(head.status).toBe(401);
      expect(head.headers['set-cookie']).toBeUndefined();
    }
    const get = await send(rt.port, client.pathOf(json.url!));
    expect(get.status).toBe(303);
    expect(client.readCookie(get)).toMatch(new RegExp(`^authsome_session_${rt.port}=`));
  });

  it(
    'a one-time URL reached from another site (the launcher ' + 'file) signs in on a page that moves on by itself',
    async () => {
      // A navigation started by a file:// page carries no SameSite=Strict cookie, and neither does a redirect after
      // it; the browser has to take a step from a page of ours, so the answer is a page, not a 303.
      const { json } = await client.api('POST', '/ui-link');
      const r = await send(rt.port, client.pathOf(json.url!), {
        headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' },
      });
      expect(r.status).toBe(200);
      expect(r.body).toContain('<meta http-equiv="refresh" content="0;url=/">');
      expect(r.body).not.toMatch(/<script/i);
      expect(r.body).not.toContain(json.url!.split('token=')[1]!);
      expect(r.headers['content-security-policy']).toContain("default-src 'self'");
      const cookie = client.readCookie(r).split(';')[0]!;
      expect((await send(rt.port, '/', { headers: { cookie } })).status).toBe(200);
    },
  );

  it('the Host refusal carries the same protective headers as every page', async () => {
    for (const path of ['/', '/health', '/api/status', '/static/app.css']) {
      const r = await sendHttp(rt.port, path, { headers: { host: 'evil.example' } });
      expect(r.status, path).toBe(403);
      expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['x-frame-options']).toBe('DENY');
      expect(r.headers['referrer-policy']).toBe('same-origin');
      expect(r.headers['cache-control']).toBe('no-store');
    }
  });

  it(
    'pages asked for by a loopback name go to ' + 'authsome.localhost, token unredeemed; /api and /health stay',
    async () => {
      const { json } = await client.api('POST', '/ui-link');
      const path = client.pathOf(json.url!);
      for (const host of [`127.0.0.1:${rt.port}`, `localhost:${rt.port}`, `[::1]:${rt.port}`]) {
        for (const [method, target] of [
          ['GET', path],
          ['HEAD', path],
          ['GET', '/providers/openai?show=all'],
          ['POST', '/providers/openai/connections/team/logout'],
        ] as const) {
          const r = await send(rt.port, target, { method, headers: { host } });
          expect(r.status, `${method} ${host}${target}`).toBe(method === 'POST' ? 303 : 302);
          expect(r.headers.location).toBe(`http://authsome.localhost:${rt.port}${target}`);
          expect(r.headers['set-cookie']).toBeUndefined();
        }
      }
      expect(rt.vault.list('connection:openai:')).toContain('connection:openai:team');
      // The token survived all of that, and signs in on the pages' own host, with a host-only cookie.
      const signed = await send(rt.port, path);
      expect(signed.status).toBe(303);
      expect(client.readCookie(signed)).not.toMatch(/domain=/i);
      // A session cookie sent to a loopback name opens no page there.
      const cookie = client.readCookie(signed).split(';')[0]!;
      const onLoopback = await send(rt.port, '/providers/openai', {
        headers: { host: `127.0.0.1:${rt.port}`, cookie },
      });
      expect(onLoopback.status).toBe(302);
      expect(onLoopback.body).not.toContain(CANARY);
      // The CLI's side is unchanged.
      expect((await sendHttp(rt.port, '/health')).status).toBe(200);
      expect(
        (await sendHttp(rt.port, '/api/status', { headers: { authorization: `Bearer ${rt.token}` } })).status,
      ).toBe(200);
    },
  );

  it(
    'the login-session API: bearer only, long-poll, cancel; an unknown provider or an existing connection is ' +
      'refused',
    async () => {
      const noToken = await send(rt.port, '/api/login-sessions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ provider: 'openai' }),
      });
      expect(noToken.status).toBe(401);
      expect((await client.api('POST', '/login-sessions', { provider: 'nope' })).status).toBe(404);
      const exists = await client.api('POST', '/login-sessions', { provider: 'openai' });
      expect(exists.status).toBe(400);
      expect(exists.json.message).toBe('openai (default) is already connected.');
      expect((await client.api('POST', '/login-sessions', { provider: 'openai', force: true })).status).toBe(201);

      const created = await client.api('POST', '/login-sessions', { provider: 'anthropic' });
      const started = Date.now();
      const pending = await client.api('GET', `/login-sessions/${created.json.id}?wait=200`);
      expect(pending.json.state).toBe('pending');
      expect(Date.now() - started).toBeGreaterThanOrEqual(150);
      const waiting = client.api('GET', `/login-sessions/${created.json.id}?wait=20000`);
      // The second long-poll on this session is parked: the cancel must wake it, not find the session ended already.
      await expect.poll(() => parked.filter((id) => id === created.json.id).length).toBe(2);
      expect((await client.api('POST', `/login-sessions/${created.json.id}/cancel`)).json.state).toBe('cancelled');
      expect((await waiting).json.state).toBe('cancelled');
      expect(Date.now() - started).toBeLessThan(5_000);

      const b = await client.signIn();
      const ended = await client.page(b, `/login/${created.json.id}`);
      expect(ended.status).toBe(410);
      expect(ended.body).toContain('authsome login anthropic');
      expect((await client.api('GET', '/login-sessions/unknown')).status).toBe(404);
    },
  );
});

describe('web security: fresh confirmation before a reveal, session lifetimes (injected clock)', () => {
  const MINUTE = 60_000;
  let root: string;

  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'authsome-web-clock-'));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  async function startRuntime(name: string) {
    const clock = { now: Date.now() };
    const rt = await createRuntime({ home: join(root, name), port: 0, kdf: KDF, web: { now: () => clock.now } });
    const client = createClient(rt);
    expect((await client.api('POST', '/login/api-key', { provider: 'openai', api_key: CANARY })).status).toBe(200);
    return { rt, client, clock };
  }
  const revealCount = async (rt: Runtime) =>
    (await rt.audit.readRecent(1000)).filter((e) => e.event === 'reveal').length;

  it(
    'a cookie and CSRF token captured from a page and ' + 'replayed later by a non-browser client reveal nothing',
    async () => {
      const { rt, client, clock } = await startRuntime('stolen');
      try {
        const captured = await client.signIn();
        // Within five minutes of the sign-in through a one-time URL, the person at the keyboard may reveal.
        clock.now += 4 * MINUTE;
        const fresh = await client.post(
          captured,
          '/providers/openai/connections/default/reveal',
          {},
          { 'hx-request': 'true', 'x-csrf-token': captured.csrf },
        );
        expect(fresh.status).toBe(200);
        expect(fresh.body).toContain(CANARY);

        // The attacker replays the captured cookie and token later (the session itself is still alive).
        clock.now += 2 * MINUTE;
        expect((await client.page(captured, '/providers/openai')).status).toBe(200);
        const before = await revealCount(rt);
        for (const [fields, headers] of <[Record<string, string>, Record<string, string>][]>[
          [{}, { 'hx-request': 'true', 'x-csrf-token': captured.csrf }],
          [{ _csrf: captured.csrf }, {}],
          [{ _csrf: captured.csrf, passphrase: 'anything' }, {}],
        ]) {
          const replay = await client.post(captured, '/providers/openai/connections/default/reveal', fields, headers);
          expect(replay.status).toBe(422);
          for (const form of canaryForms(CANARY)) expect(replay.body.includes(form)).toBe(false);
          expect(replay.body).toContain('Revealing a key needs a sign-in from your terminal in the last 5 minutes.');
          expect(replay.body).toContain('authsome ui');
          expect(replay.body).toContain('sk-…cret'); // the masked key, as before
        }
        expect(await revealCount(rt)).toBe(before);

        // A fresh one-time URL opened in the same browser refreshes its sign-in: same cookie, reveal works again.
        const { json } = await client.api('POST', '/ui-link');
        const again = await send(rt.port, client.pathOf(json.url!), { headers: { cookie: captured.cookie } });
        expect(again.status).toBe(303);
        expect(again.headers['set-cookie']).toBeUndefined();
        const renewed = await client.post(captured, '/providers/openai/connections/default/reveal', {
          _csrf: captured.csrf,
        });
        expect(renewed.status).toBe(200);
        expect(renewed.body).toContain(CANARY);
        expect(await revealCount(rt)).toBe(before + 1);
      } finally {
        await rt.close();
      }
    },
  );

  it('a passphrase vault asks for the passphrase on every reveal; a wrong one shows nothing', async () => {
    const { rt, client } = await startRuntime('passphrase');
    try {
      await rt.vault.setPassphrase('the vault passphrase, long enough');
      const b = await client.signIn();
      const page = await client.page(b, '/providers/openai');
      expect(page.body).toMatch(/<input id="secret-default-passphrase" name="passphrase" type="password"/);
      const before = await revealCount(rt);
      for (const passphrase of [undefined, '', 'not the passphrase']) {
        const fields: Record<string, string> =
          passphrase === undefined ? { _csrf: b.csrf } : { _csrf: b.csrf, passphrase };
        for (const headers of <Record<string, string>[]>[{}, { 'hx-request': 'true' }]) {
          const r = await client.post(b, '/providers/openai/connections/default/reveal', fields, headers);
          expect(r.status, `${passphrase} ${JSON.stringify(headers)}`).toBe(422);
          expect(r.body).not.toContain(CANARY);
          expect(r.body).toContain(
            passphrase ? 'Wrong passphrase. Nothing was revealed.' : 'Enter the vault passphrase to reveal this key.',
          );
          expect(r.body).not.toContain('not the passphrase');
        }
      }
      expect(await revealCount(rt)).toBe(before);
      const ok = await client.post(b, '/providers/openai/connections/default/reveal', {
        _csrf: b.csrf,
        passphrase: 'the vault passphrase, long enough',
      });
      expect(ok.status).toBe(200);
      expect(ok.body).toContain(CANARY);
      expect(await revealCount(rt)).toBe(before + 1);
    } finally {
      await rt.close();
    }
  });

  it('a browser session ends after an idle hour, and after twelve hours however busy', async () => {
    const { rt, client, clock } = await startRuntime('lifetime');
    try {
      const start = clock.now;
      const busy = await client.signIn();
      const idle = await client.signIn();
      for (let elapsed = 50; elapsed < 12 * 60; elapsed += 50) {
        clock.now = start + elapsed * MINUTE;
        expect((await client.page(busy, '/')).status, `${elapsed} min`).toBe(200);
        // The other session has been idle for more than an hour by now.
        if (elapsed === 100) expect((await client.page(idle, '/')).status).toBe(401);
      }
      clock.now = start + 12 * 60 * MINUTE;
      const ended = await client.page(busy, '/');
      expect(ended.status).toBe(401);
      expect(ended.body).toContain('authsome ui');
    } finally {
      await rt.close();
    }
  });
});

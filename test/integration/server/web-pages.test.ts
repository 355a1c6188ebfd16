// Page behaviour over real sockets : one URL answers a whole page or, for htmx,
// the bare fragment; forms without JavaScript get 303s; errors are HTML (a flash for htmx), never JSON; a locked
// vault sends pages to /unlock and back to where the person was.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendHttp, type SendOptions } from '../../helpers/http.js';
import { createRuntime, type Runtime } from '../../../src/runtime.js';

/** Pages are served on authsome.localhost; the CLI's /api stays on 127.0.0.1. */
const send = (port: number, path: string, options: SendOptions = {}) =>
  sendHttp(
    port,
    path,
    path.startsWith('/api/')
      ? options
      : { ...options, headers: { host: `authsome.localhost:${port}`, ...options.headers } },
  );

const FORM = 'application/x-www-form-urlencoded';
const PASSPHRASE = 'a passphrase for the pages test';

describe('web pages over HTTP', () => {
  let root: string;
  let rt: Runtime;
  let cookie = '';
  let csrf = '';
  const page = (path: string, headers: Record<string, string> = {}) =>
    send(rt.port, path, { headers: { cookie, ...headers } });
  const post = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    send(rt.port, path, {
      method: 'POST',
      headers: { cookie, 'content-type': FORM, 'x-csrf-token': csrf, ...headers },
      body: new URLSearchParams(fields).toString(),
    });
  const htmx = { 'hx-request': 'true' };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'authsome-pages-'));
    rt = await createRuntime({ home: join(root, 'home'), port: 0, kdf: { memory_kib: 1024, iterations: 1 } });
    await rt.connections.loginWithApiKey({ provider: 'openai', apiKey: 'sk-pages0123456789abcdefghijklmn' });
    await rt.connections.loginWithApiKey({
      provider: 'openai',
      connection: 'team',
      apiKey: 'sk-pagesteam0123456789abcdefghij',
    });
    const link = await send(rt.port, '/api/ui-link', {
      method: 'POST',
      headers: { authorization: `Bearer ${rt.token}` },
    });
    const url = new URL(JSON.parse(link.body).url);
    const signIn = await send(rt.port, url.pathname + url.search);
    cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    csrf = /X-CSRF-Token&quot;:&quot;([^&]+)&quot;/.exec((await page('/')).body)![1]!;
  });
  afterAll(async () => {
    await rt.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('the same URL is a whole page, or the bare partial when htmx asks', async () => {
    const full = await page('/providers/openai');
    expect(full.status).toBe(200);
    expect(full.body).toMatch(/^<!doctype html>/);
    expect(full.body).toContain('<title>OpenAI · authsome</title>');
    const fragment = await page('/providers/openai', htmx);
    expect(fragment.status).toBe(200);
    expect(fragment.body).not.toContain('<html');
    expect(fragment.body).toContain('<section class="card" id="connections"');
    // A history restore is a whole page again (htmx is told to reload, not to swap a snapshot).
    expect((await page('/providers/openai', { ...htmx, 'hx-history-restore-request': 'true' })).body).toMatch(
      /^<!doctype html>/,
    );
    // The catalog answers only its result list to the search box.
    const results = await page('/providers?q=anthropic', { ...htmx, 'hx-target': 'catalog-results' });
    expect(results.body.trimStart()).toMatch(/^<div id="catalog-results"/);
    expect(results.body).toContain('data-provider="anthropic"');
    expect(results.body).not.toContain('data-provider="openai"');
  });

  it(
    'actions: 303 back to the page without JavaScript (with a one-time message), the swapped fragment with ' + 'htmx',
    async () => {
      const plain = await post('/providers/openai/connections/team/default', {});
      expect(plain.status).toBe(303);
      expect(plain.headers.location).toBe('/providers/openai');
      const next = await page('/providers/openai');
      expect(next.body).toContain('team is now the default connection of openai.');
      expect((await page('/providers/openai')).body).not.toContain('is now the default connection'); // shown once

      const swapped = await post('/providers/openai/connections/default/default', {}, htmx);
      expect(swapped.status).toBe(200);
      expect(swapped.body.trimStart()).toMatch(/^<section class="card" id="connections"/);
      expect(swapped.body).toContain('default is now the default connection of openai.');
    },
  );

  it('errors are HTML: a page with the status, or a message retargeted to #flash for htmx', async () => {
    const missing = await page('/providers/nope');
    expect(missing.status).toBe(404);
    expect(missing.headers['content-type']).toMatch(/^text\/html/);
    expect(missing.body).toContain('Provider &#39;nope&#39; not found.');
    const action = await post('/providers/openai/connections/ghost/logout', {}, htmx);
    expect(action.status).toBe(404);
    expect(action.headers['hx-retarget']).toBe('#flash');
    expect(action.headers['hx-reswap']).toBe('innerHTML');
    expect(action.body).toContain('Connection &#39;ghost&#39; not found for provider &#39;openai&#39;.');
    expect(action.body).not.toContain('<html');
  });

  it(
    '"Replace key": a fresh login form for the connection; a bad key keeps the old one, a good one replaces ' + 'it',
    async () => {
      const oldKey = 'sk-pagesteam0123456789abcdefghij';
      const newKey = 'sk-pagesteamNEW456789abcdefghijk';
      const before = rt.connections.loadCredential('openai', 'team');
      expect(before.api_key).toBe(oldKey);
      expect((await page('/providers/openai')).body).toContain('action="/providers/openai/connections/team/replace"');

      const start = await post('/providers/openai/connections/team/replace', {});
      expect(start.status).toBe(303);
      const formPath = start.headers.location as string;
      expect(formPath).toMatch(/^\/login\/[A-Za-z0-9_-]+$/);
      const form = await page(formPath);
      expect(form.status).toBe(200);
      expect(form.body).toContain('<title>Replace the OpenAI key · authsome</title>');
      expect(form.body).toContain('<strong class="mono">team</strong>');
      expect(form.body).toMatch(
        /<input id="api_key" name="api_key" type="password"[^>]* pattern="\^sk-\[A-Za-z0-9_\\-\]\{20,\}\$"/,
      );
      expect(form.body).toContain('OpenAI API keys start with &#39;sk-&#39; followed by at least 20 letters');
      expect(form.body).not.toContain(oldKey);

      // A bad paste: the form again with the catalogue's message, and nothing in the vault changed.
      const bad = await post(formPath, { api_key: 'sk-short' });
      expect(bad.status).toBe(422);
      expect(bad.body).toContain('This does not look like a valid OpenAI API key.');
      expect(bad.body).toContain('<h1>Replace the OpenAI key</h1>');
      expect(bad.body).not.toContain('sk-short');
      expect(rt.connections.loadCredential('openai', 'team')).toEqual(before);

      const good = await post(formPath, { api_key: newKey });
      expect(good.status).toBe(303);
      expect(good.headers.location).toBe('/providers/openai');
      const after = rt.connections.loadCredential('openai', 'team');
      expect(after.api_key).toBe(newKey);
      const next = await page('/providers/openai');
      expect(next.body).toContain('Replaced the key of openai (team).');
      expect(next.body).not.toContain(newKey);
      await rt.audit.flush();
      expect((await rt.audit.readRecent(1))[0]).toMatchObject({
        event: 'login',
        provider: 'openai',
        connection: 'team',
        reason: 'replaced',
      });
      expect(JSON.stringify(await rt.audit.readRecent(5))).not.toContain(newKey);
      // The form is spent: a second submit cannot overwrite the key again.
      expect((await post(formPath, { api_key: oldKey })).status).toBe(410);
      expect(rt.connections.loadCredential('openai', 'team').api_key).toBe(newKey);

      // With htmx: the start and the submit each answer HX-Redirect (a full page load, so the message shows).
      const startHx = await post('/providers/openai/connections/team/replace', {}, htmx);
      expect(startHx.status).toBe(200);
      const hxForm = startHx.headers['hx-redirect'] as string;
      expect(hxForm).toMatch(/^\/login\/[A-Za-z0-9_-]+$/);
      const badHx = await post(hxForm, { api_key: 'not-a-key' }, htmx);
      expect(badHx.status).toBe(422);
      expect(badHx.body.trimStart()).toMatch(/^<section class="login" id="login">/);
      expect(rt.connections.loadCredential('openai', 'team').api_key).toBe(newKey);
      const goodHx = await post(hxForm, { api_key: oldKey }, htmx);
      expect(goodHx.headers['hx-redirect']).toBe('/providers/openai');
      expect(rt.connections.loadCredential('openai', 'team').api_key).toBe(oldKey);
      expect((await page('/providers/openai')).body).toContain('Replaced the key of openai (team).');

      // Only a connection that exists can have its key replaced.
      const ghost = await post('/providers/openai/connections/ghost/replace', {});
      expect(ghost.status).toBe(404);
      expect(ghost.body).toContain('Connection &#39;ghost&#39; not found for provider &#39;openai&#39;.');
    },
  );

  it('"Replace key" is refused to another site and to a form without the CSRF token', async () => {
    const before = rt.connections.loadCredential('openai', 'team');
    const crossSite = await post('/providers/openai/connections/team/replace', {}, { origin: 'http://evil.example' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers.location).toBeUndefined();
    const noToken = await send(rt.port, '/providers/openai/connections/team/replace', {
      method: 'POST',
      headers: { cookie, 'content-type': FORM },
      body: '',
    });
    expect(noToken.status).toBe(403);
    expect(noToken.headers.location).toBeUndefined();
    expect(rt.connections.loadCredential('openai', 'team')).toEqual(before);
    // The same request from the pages' own origin, with its token, is the one that opens the form.
    const own = await post(
      '/providers/openai/connections/team/replace',
      {},
      { origin: `http://authsome.localhost:${rt.port}` },
    );
    expect(own.status).toBe(303);
    expect(own.headers.location).toMatch(/^\/login\/[A-Za-z0-9_-]+$/);
  });

  it(
    'the override validator answers after a pause: ok, or what is "not valid yet" (JSON errors at ' +
      'line:column), never "the file is invalid"',
    async () => {
      const customFile = join(root, 'home', 'providers', 'openai.json');
      const ok = await post(
        '/providers/openai/override/validate',
        {
          definition: JSON.stringify({
            schema_version: 1,
            name: 'openai',
            display_name: 'O',
            auth_type: 'api_key',
            api_url: 'api.openai.com',
          }),
        },
        htmx,
      );
      expect(ok.body).toContain('Valid definition.');
      const wrongName = await post(
        '/providers/openai/override/validate',
        {
          definition: JSON.stringify({
            schema_version: 1,
            name: 'other',
            display_name: 'O',
            auth_type: 'api_key',
            api_url: 'x.example',
          }),
        },
        htmx,
      );
      expect(wrongName.body).toContain(
        'Not valid yet: name &#39;other&#39; must equal the file name &#39;openai&#39;.',
      );
      // As a browser submits a textarea: CRLF line ends. The place is counted in the text as typed, from 1.
      const typo = await post(
        '/providers/openai/override/validate',
        { definition: '{\r\n  "schema_version": 1,\r\n  "name": x\r\n}' },
        htmx,
      );
      expect(typo.status).toBe(200);
      expect(typo.body).toContain(
        'Not valid yet: JSON syntax error at line 3, column 11: Unexpected token &#39;x&#39;.',
      );
      const half = await post(
        '/providers/openai/override/validate',
        { definition: '{"schema_version": 1,\n  "na' },
        htmx,
      );
      expect(half.body).toContain('Not valid yet: JSON syntax error at line 2, column 6: Unterminated string.');
      const empty = await post('/providers/openai/override/validate', { definition: '  \r\n' }, htmx);
      expect(empty.body).toContain('Not valid yet: the definition is empty.');
      for (const r of [wrongName, typo, half, empty]) {
        expect(r.body).toContain('data-state="problem"');
        expect(r.body).not.toMatch(/is invalid|openai\.json/); // no file was saved, so none is called invalid
      }
      expect(existsSync(customFile)).toBe(false);

      // Without JavaScript, "Check" answers the whole editor with the text kept and the result under it.
      const plain = await post('/providers/openai/override/validate', { definition: '{"name": x}' });
      expect(plain.status).toBe(200);
      expect(plain.body).toMatch(/^<!doctype html>/);
      expect(plain.body).toContain('{&quot;name&quot;: x}</textarea>');
      expect(plain.body).toContain(
        'Not valid yet: JSON syntax error at line 1, column 10: Unexpected token &#39;x&#39;.',
      );

      // Saving text that is not valid: "Not saved", and nothing written.
      const save = await post('/providers/openai/override', {
        definition: '{\n  "schema_version": 1\n  "name": "openai"\n}',
      });
      expect(save.status).toBe(422);
      expect(save.body).toContain(
        'Not saved: JSON syntax error at line 3, column 3: Expected &#39;,&#39; or &#39;}&#39; after property value.',
      );
      expect(save.body).toContain('Nothing was written: openai still uses the bundled definition.');
      expect(save.body).not.toContain('is invalid');
      expect(existsSync(customFile)).toBe(false);
    },
  );

  it(
    'the override editor opens without a verdict; only a ' + 'saved file that is itself broken is called invalid',
    async () => {
      const editor = await page('/providers/openai/override');
      expect(editor.status).toBe(200);
      expect(editor.body).toContain('data-state="idle"');
      expect(editor.body).toContain('Checked when you pause typing or press Check');
      expect(editor.body).not.toMatch(/field-invalid|aria-invalid|role="alert"|is invalid/);
      expect(editor.body).toContain('hx-trigger="input changed delay:1s"');
      expect(editor.body).toContain('<script src="/static/override-editor.js" defer></script>');
      expect((await send(rt.port, '/static/override-editor.js')).headers['content-type']).toMatch(/^text\/javascript/);

      mkdirSync(join(root, 'home', 'providers'), { recursive: true });
      writeFileSync(join(root, 'home', 'providers', 'groq.json'), '{"schema_version": 1, "name": "groq",\n');
      try {
        const broken = await page('/providers/groq/override');
        expect(broken.status).toBe(200);
        expect(broken.body).toContain('Your saved file is invalid and ignored.');
        expect(broken.body).toMatch(/groq\.json<\/code>: not valid JSON/);
        expect(broken.body).toContain('data-state="idle"');
      } finally {
        rmSync(join(root, 'home', 'providers', 'groq.json'));
      }
    },
  );

  it('a locked vault sends pages to /unlock, and back to the page (not the fragment) once unlocked', async () => {
    await rt.vault.setPassphrase(PASSPHRASE);
    rt.vault.lock();
    const full = await page('/providers?q=open');
    expect(full.status).toBe(303);
    expect(full.headers.location).toBe('/unlock?next=%2Fproviders%3Fq%3Dopen');
    const poll = await page('/activity/feed?since=3', { ...htmx, 'hx-current-url': `${rt.url}/activity` });
    expect(poll.headers['hx-redirect']).toBe('/unlock?next=%2Factivity');
    const form = await page('/unlock?next=%2Factivity');
    expect(form.status).toBe(200);
    expect(form.body).toContain('name="next" value="/activity"');

    const wrong = await post('/unlock', { passphrase: 'nope', next: '/activity' });
    expect(wrong.status).toBe(422);
    expect(wrong.body).toContain('Wrong passphrase for the vault at');
    expect(rt.vault.status().state).toBe('locked');
    // A next that leaves the site is ignored.
    const unlocked = await post('/unlock', { passphrase: PASSPHRASE, next: '//evil.example/x' });
    expect(unlocked.status).toBe(303);
    expect(unlocked.headers.location).toBe('/');
    expect(rt.vault.status().state).toBe('unlocked');
    const back = await page('/unlock?next=%2Factivity');
    expect(back.headers.location).toBe('/activity');
  });

  it('the activity feed answers 204 while nothing changed, and the new list when something did', async () => {
    const first = await page('/activity');
    const revision = /\/activity\/feed\?since=(\d+)/.exec(first.body)![1]!;
    expect((await page(`/activity/feed?since=${revision}`, htmx)).status).toBe(204);
    rt.audit.record('export', { provider: 'openai', connection: 'team' });
    const changed = await page(`/activity/feed?since=${revision}`, htmx);
    expect(changed.status).toBe(200);
    expect(changed.body).toContain(`/activity/feed?since=${Number(revision) + 1}`);
    expect(changed.body.indexOf('Exported')).toBeLessThan(changed.body.indexOf('Logged in'));
  });

  it("the activity page names a run by its program and shows doctor's self-test apart", async () => {
    const agent = await rt.runs.start({ pid: process.pid, program: '/usr/bin/python3 secret-arg' });
    rt.runs.end(agent.id, 0);
    const doctor = await rt.runs.start({ pid: process.pid, selfTest: true });
    rt.runs.end(doctor.id);
    await rt.audit.flush();
    const body = (await page('/activity')).body;
    const rows = body.split('<li class="event">').slice(1);
    const agentRows = rows.filter((r) => r.includes('>python3<'));
    expect(agentRows.map((r) => /event-label">([^<]+)</.exec(r)?.[1])).toEqual(['Run ended', 'Run started']);
    const selfTest = rows.filter((r) => r.includes('>authsome doctor<'));
    expect(selfTest.map((r) => /event-label">([^<]+)</.exec(r)?.[1])).toEqual(['Self-test ended', 'Self-test']);
    expect(body).not.toContain('secret-arg');
    expect(body).not.toContain('/usr/bin');
  });
});

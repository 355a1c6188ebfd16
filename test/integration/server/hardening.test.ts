// Hostile clients against the web server over real sockets: oversized and endless bodies on /api and the pages,
// redirect targets that leave the site, a form with two CSRF fields, and guessing the passphrase on /unlock.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendHttp } from '../../helpers/http.js';
import { createRuntime, type Runtime } from '../../../src/runtime.js';

const KDF = { memory_kib: 1024, iterations: 1 };
const FORM = 'application/x-www-form-urlencoded';
const PASSPHRASE = 'the right passphrase for hardening';

/** Pages live on authsome.localhost (the CLI's /api stays on 127.0.0.1). */
const sendPage = (port: number, path: string, options: Parameters<typeof sendHttp>[2] = {}) =>
  sendHttp(port, path, { ...options, headers: { host: `authsome.localhost:${port}`, ...options.headers } });

interface BrowserLogin {
  cookie: string;
  csrf: string;
}

/** Signs a browser in the way `authsome ui` does: a one-time link from the API, then the page's CSRF token. */
async function signIn(rt: Runtime): Promise<BrowserLogin> {
  const link = await sendHttp(rt.port, '/api/ui-link', {
    method: 'POST',
    headers: { authorization: `Bearer ${rt.token}` },
  });
  const url = new URL(JSON.parse(link.body).url);
  const first = await sendPage(rt.port, url.pathname + url.search);
  const cookie = String(first.headers['set-cookie']).split(';')[0]!;
  let page = await sendPage(rt.port, '/', { headers: { cookie } });
  // A locked vault sends the dashboard to /unlock, whose form carries the token as well.
  if (page.status === 303) page = await sendPage(rt.port, String(page.headers.location), { headers: { cookie } });
  const csrf = /X-CSRF-Token&quot;:&quot;([^&]+)&quot;/.exec(page.body)?.[1];
  expect(csrf, 'the page carries the CSRF token').toBeTruthy();
  return { cookie, csrf: csrf! };
}

interface StreamedReply {
  head: string;
  status: number;
  body: string;
  /** Whether the server ended the connection (within the deadline) after answering. */
  closed: boolean;
}

/**
 * A client that streams a chunked body of `totalBytes` without Content-Length and never sends the final chunk:
 * only the server can end this exchange, by answering and closing the connection.
 */
function streamChunkedBody(
  port: number,
  path: string,
  headers: Record<string, string>,
  totalBytes: number,
): Promise<StreamedReply> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let _answeredAt = 0;
    const deadline = setTimeout(() => finish(false), 10_000);
    function finish(closed: boolean): void {
      clearTimeout(deadline);
      socket.destroy();
      const [head = '', body = ''] = received.split('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      if (!status) return reject(new Error(`no answer from the server (closed: ${closed})`));
      resolve({ head, status, body, closed });
    }
    socket.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      _answeredAt ||= Date.now();
    });
    socket.on('close', () => finish(true));
    // A write after the server closed its side: the answer is what the test looks at, not the broken pipe.
    socket.on('error', () => undefined);
    socket.on('connect', () => {
      const lines = Object.entries({ host: `127.0.0.1:${port}`, 'transfer-encoding': 'chunked', ...headers }).map(
        ([k, v]) => `${k}: ${v}`,
      );
      socket.write(`POST ${path} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`);
      const chunk = Buffer.alloc(64 * 1024, 'a');
      for (let sent = 0; sent < totalBytes && !socket.destroyed; sent += chunk.length) {
        socket.write(`${chunk.length.toString(16)}\r\n`);
        socket.write(chunk);
        socket.write('\r\n');
      }
    });
  });
}

describe('hardening against hostile clients', () => {
  let root: string;
  let rt: Runtime;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'authsome-hardening-'));
    rt = await createRuntime({ home: join(root, 'home'), port: 0, kdf: KDF });
  });
  afterAll(async () => {
    await rt.close();
    rmSync(root, { recursive: true, force: true });
  });

  it(
    'an authenticated 2 MiB chunked /api body is refused 413 with the catalogue error, and the connection ' + 'ends',
    async () => {
      const r = await streamChunkedBody(
        rt.port,
        '/api/login/api-key',
        { authorization: `Bearer ${rt.token}`, 'content-type': 'application/json' },
        2 * 1024 * 1024,
      );
      expect(r.status).toBe(413);
      expect(r.closed).toBe(true);
      expect(JSON.parse(r.body)).toEqual({
        error: 'PAYLOAD_TOO_LARGE',
        message: 'The request body is larger than authsome accepts (1 MiB).',
        hint: expect.stringContaining('smaller'),
      });
      // A declared Content-Length over the limit is refused before a byte of the body is read.
      const declared = await sendHttp(rt.port, '/api/login/api-key', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${rt.token}`,
          'content-type': 'application/json',
          'content-length': String(2 * 1024 * 1024),
        },
        body: 'x'.repeat(2 * 1024 * 1024),
      });
      expect(declared.status).toBe(413);
      expect(JSON.parse(declared.body).error).toBe('PAYLOAD_TOO_LARGE');
      // A body under the limit still reaches the route.
      const small = await sendHttp(rt.port, '/api/login/api-key', {
        method: 'POST',
        headers: { authorization: `Bearer ${rt.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          provider: 'openai',
          api_key: 'sk-hardening0123456789abcdefghij',
          pad: 'p'.repeat(512 * 1024),
        }),
      });
      expect(small.status).toBe(200);
    },
  );

  it(
    'a 2 MiB chunked form body on a page is refused 413 ' + 'with the catalogue error, and the connection ends',
    async () => {
      const b = await signIn(rt);
      const r = await streamChunkedBody(
        rt.port,
        '/providers/openai/override',
        { host: `authsome.localhost:${rt.port}`, cookie: b.cookie, 'content-type': FORM, 'x-csrf-token': b.csrf },
        2 * 1024 * 1024,
      );
      expect(r.status).toBe(413);
      expect(r.closed).toBe(true);
      expect(r.head).toMatch(/content-type: text\/html/i);
      expect(r.body).toContain('The request body is larger than authsome accepts (1 MiB).');
      expect(r.body).toContain('Send a smaller request');
    },
  );

  it(
    'next= never redirects off the site: tab, newline, backslash, scheme-relative, absolute and javascript: ' + 'URLs',
    async () => {
      const b = await signIn(rt);
      const hostile = [
        '/%09/evil.com',
        '/%0A/evil.com',
        '/%0D%0A/evil.com',
        '/%09%09/evil.com',
        '//evil.com',
        '/%5Cevil.com',
        '/%5C%09evil.com',
        'https://evil.com',
        'javascript:alert(1)',
        '%09//evil.com',
        '/unlock',
        '/./unlock',
      ];
      for (const next of hostile) {
        const r = await sendPage(rt.port, `/unlock?next=${next}`, { headers: { cookie: b.cookie } });
        expect(r.status, next).toBe(303);
        expect(r.headers.location, next).toBe('/');
        const posted = await sendPage(rt.port, '/unlock', {
          method: 'POST',
          headers: { cookie: b.cookie, 'content-type': FORM },
          body: `_csrf=${b.csrf}&next=${next}`,
        });
        expect(posted.status, next).toBe(303);
        expect(posted.headers.location, next).toBe('/');
      }
      // A local path (with its query) still comes back as it was.
      const local = await sendPage(rt.port, `/unlock?next=${encodeURIComponent('/providers?q=open')}`, {
        headers: { cookie: b.cookie },
      });
      expect(local.headers.location).toBe('/providers?q=open');
    },
  );

  it(
    'a form with two _csrf fields (one right, one wrong, ' + 'either order) is refused 403 and changes nothing',
    async () => {
      const b = await signIn(rt);
      await rt.connections.loginWithApiKey({
        provider: 'openai',
        connection: 'team',
        apiKey: 'sk-hardeningteam0123456789abcdef',
      });
      const before = rt.connections.resolveConnectionName('openai');
      for (const body of [
        `_csrf=${b.csrf}&_csrf=wrong`,
        `_csrf=wrong&_csrf=${b.csrf}`,
        `_csrf=${b.csrf}&_csrf=${b.csrf}`,
      ]) {
        const r = await sendPage(rt.port, '/providers/openai/connections/team/default', {
          method: 'POST',
          headers: { cookie: b.cookie, 'content-type': FORM },
          body,
        });
        expect(r.status, body).toBe(403);
        expect(r.body).toContain('This form has expired');
        // With the right header too: every token presented must be the session's.
        const withHeader = await sendPage(rt.port, '/providers/openai/connections/team/default', {
          method: 'POST',
          headers: { cookie: b.cookie, 'content-type': FORM, 'x-csrf-token': b.csrf },
          body,
        });
        expect(withHeader.status, `${body} + header`).toBe(403);
      }
      const multipart = new FormData();
      multipart.append('_csrf', 'wrong');
      multipart.append('_csrf', b.csrf);
      const encoded = new Response(multipart);
      const r = await sendPage(rt.port, '/providers/openai/connections/team/default', {
        method: 'POST',
        headers: { cookie: b.cookie, 'content-type': encoded.headers.get('content-type')! },
        body: await encoded.text(),
      });
      expect(r.status).toBe(403);
      expect(rt.connections.resolveConnectionName('openai')).toBe(before);
      // One right field still goes through.
      const ok = await sendPage(rt.port, '/providers/openai/connections/team/default', {
        method: 'POST',
        headers: { cookie: b.cookie, 'content-type': FORM },
        body: `_csrf=${b.csrf}`,
      });
      expect(ok.status).toBe(303);
      expect(rt.connections.resolveConnectionName('openai')).toBe('team');
    },
  );
});

describe('passphrase guessing on /unlock and /api/vault/unlock', () => {
  let root: string;
  let rt: Runtime;
  let clock = Date.parse('2026-01-01T00:00:00Z');

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'authsome-backoff-'));
    rt = await createRuntime({ home: join(root, 'home'), port: 0, kdf: KDF, web: { now: () => clock } });
    await rt.vault.setPassphrase(PASSPHRASE);
    rt.vault.lock();
  });
  afterAll(async () => {
    await rt.close();
    rmSync(root, { recursive: true, force: true });
  });

  const apiUnlock = async (passphrase: string) => {
    const r = await sendHttp(rt.port, '/api/vault/unlock', {
      method: 'POST',
      headers: { authorization: `Bearer ${rt.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ passphrase }),
    });
    return { status: r.status, json: JSON.parse(r.body) as Record<string, string> };
  };

  it(
    'after five wrong passphrases even the right one is refused until the pause ends; the pause grows; ' +
      'success resets',
    async () => {
      const b = await signIn(rt);
      const pageUnlock = (passphrase: string) =>
        sendPage(rt.port, '/unlock', {
          method: 'POST',
          headers: { cookie: b.cookie, 'content-type': FORM },
          body: new URLSearchParams({ _csrf: b.csrf, passphrase, next: '/' }).toString(),
        });

      // Page and API share one count: alternating between them gains nothing.
      for (let i = 0; i < 5; i++) {
        if (i % 2 === 0) {
          const r = await pageUnlock(`wrong ${i}`);
          expect(r.status, `try ${i + 1}`).toBe(422);
          expect(r.body).toContain('Wrong passphrase for the vault at');
        } else {
          expect((await apiUnlock(`wrong ${i}`)).json.error, `try ${i + 1}`).toBe('WRONG_PASSPHRASE');
        }
      }
      const refusedPage = await pageUnlock(PASSPHRASE);
      expect(refusedPage.status).toBe(429);
      expect(refusedPage.body).toContain('Too many wrong passphrases: unlocking is paused for 5 more seconds.');
      expect(refusedPage.body).toContain('Wait 5 seconds, then try again with the right passphrase.');
      expect(rt.vault.status().state).toBe('locked');
      clock += 2_000;
      const refusedApi = await apiUnlock(PASSPHRASE);
      expect(refusedApi.status).toBe(429);
      expect(refusedApi.json).toEqual({
        error: 'TOO_MANY_ATTEMPTS',
        message: 'Too many wrong passphrases: unlocking is paused for 3 more seconds.',
        hint: 'Wait 3 seconds, then try again with the right passphrase.',
      });
      expect(rt.vault.status().state).toBe('locked');

      // Once the pause is over one more try is allowed; wrong again, the next pause is twice as long.
      clock += 3_000;
      expect((await apiUnlock('wrong again')).json.error).toBe('WRONG_PASSPHRASE');
      expect((await apiUnlock(PASSPHRASE)).json.message).toBe(
        'Too many wrong passphrases: unlocking is paused for 10 more seconds.',
      );
      // It never grows past a minute.
      for (let i = 0; i < 6; i++) {
        clock += 60_000;
        expect((await apiUnlock(`wrong late ${i}`)).json.error).toBe('WRONG_PASSPHRASE');
      }
      expect((await apiUnlock(PASSPHRASE)).json.message).toBe(
        'Too many wrong passphrases: unlocking is paused for 60 more seconds.',
      );
      expect(rt.vault.status().state).toBe('locked');

      // The right passphrase after the pause opens the vault and forgets the failures.
      clock += 60_000;
      const opened = await pageUnlock(PASSPHRASE);
      expect(opened.status).toBe(303);
      expect(rt.vault.status().state).toBe('unlocked');
      rt.vault.lock();
      for (let i = 0; i < 4; i++)
        expect((await apiUnlock(`wrong after reset ${i}`)).json.error).toBe('WRONG_PASSPHRASE');
      expect((await apiUnlock(PASSPHRASE)).status).toBe(200);
      expect(rt.vault.status().state).toBe('unlocked');
    },
  );
});

// `authsome login` waiting for the browser on a terminal: a key pasted there out of habit is never echoed, is
// accepted (whichever side comes first wins), and the browser form then says the login happened in the terminal.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFakeBrowser } from '../helpers/browser.js';
import { makeTempHome, runCli, type TempHome } from '../helpers/cli.js';
import { sendHttp } from '../helpers/http.js';
import { runInPty } from '../helpers/pty.js';

const KEY = 'sk-pastedwhilewaiting0123456789abcdefXYZ';

describe('login: a key typed on the terminal while waiting for the browser', () => {
  let t: TempHome;
  beforeAll(async () => {
    t = makeTempHome();
    await runCli(t.home, ['daemon', 'start']);
  });
  afterAll(async () => t.cleanup());

  it('is never echoed, a bad one is refused with the hint, a good one is stored and closes the form', async () => {
    const fake = createFakeBrowser(join(t.root, 'browser'));
    const session = runInPty(t.home, ['login', 'openai'], { BROWSER: fake.command });
    await session.waitFor('paste the key here and press Enter');
    const url = new URL(await fake.waitForUrl());

    session.type('not-a-key-at-all\r');
    await session.waitFor('Error: This does not look like a valid OpenAI API key.');
    expect(session.output()).toContain("Hint: OpenAI API keys start with 'sk-'");

    session.type(`${KEY}\r`);
    expect(await session.exit).toBe(0);
    const screen = session.output();
    expect(screen).toContain('Successfully logged in to openai (default).');
    // Nothing typed ever reached the screen: neither the refused text nor the key.
    expect(screen).not.toContain('not-a-key-at-all');
    expect(screen).not.toContain(KEY.slice(3, 20));
    expect((await runCli(t.home, ['get', 'openai', '--field', 'api_key', '--show-secret'])).stdout).toBe(`${KEY}\n`);

    // The browser side is told: its form is closed, and says where the login happened.
    const signIn = await sendHttp(Number(url.port), `${url.pathname}${url.search}`, { headers: { host: url.host } });
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    const form = await sendHttp(Number(url.port), url.pathname, { headers: { host: url.host, cookie } });
    expect(form.status).toBe(410);
    expect(form.body).toContain('The key was entered in the terminal');
  });

  it('when the browser wins, the terminal stops reading and reports success', async () => {
    const fake = createFakeBrowser(join(t.root, 'browser2'));
    const session = runInPty(t.home, ['login', 'openai', '--connection', 'web', '--force'], { BROWSER: fake.command });
    await session.waitFor('paste the key here and press Enter');
    const url = new URL(await fake.waitForUrl());
    const signIn = await sendHttp(Number(url.port), `${url.pathname}${url.search}`, { headers: { host: url.host } });
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    const form = await sendHttp(Number(url.port), url.pathname, { headers: { host: url.host, cookie } });
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.body)?.[1];
    expect(csrf).toBeTruthy();
    const posted = await sendHttp(Number(url.port), url.pathname, {
      method: 'POST',
      headers: {
        host: url.host,
        cookie,
        'content-type': 'application/x-www-form-urlencoded',
        origin: `http://${url.host}`,
      },
      body: new URLSearchParams({ _csrf: csrf!, api_key: KEY }).toString(),
    });
    expect(posted.status).toBe(303);
    expect(await session.exit).toBe(0);
    expect(session.output()).toContain('Successfully logged in to openai (web).');
  });
});

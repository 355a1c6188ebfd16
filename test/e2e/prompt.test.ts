// The masked terminal prompt, driven through a real pseudo-terminal (util-linux `script`): nothing typed is
// echoed, a format error re-asks (3 attempts in all), Ctrl-C cancels.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempHome, runCli, type TempHome } from '../helpers/cli.js';
import { runInPty } from '../helpers/pty.js';

describe('masked prompt in a real terminal', () => {
  let t: TempHome;
  const KEY = 'sk-typedintoaterminal0123456789abc';

  beforeAll(async () => {
    t = makeTempHome();
    await runCli(t.home, ['daemon', 'start']);
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it('asks without echoing, and stores the key', async () => {
    const pty = runInPty(t.home, ['login', 'openai', '--no-browser']);
    await pty.waitFor('OpenAI API key: ');
    pty.type(`${KEY}\r`);
    expect(await pty.exit).toBe(0);
    expect(pty.output()).toContain('Successfully logged in to openai (default).');
    expect(pty.output()).not.toContain(KEY);
    expect(pty.output()).not.toContain('sk-typed');
    const stored = await runCli(t.home, ['get', 'openai', '--field', 'api_key', '--show-secret']);
    expect(stored.stdout).toBe(`${KEY}\n`);
  });

  it('re-asks after a format error, up to 3 attempts in all, then exits 2', async () => {
    const pty = runInPty(t.home, ['login', 'openai', '--connection', 'retry', '--no-browser']);
    for (let attempt = 1; attempt <= 3; attempt++) {
      await pty.waitFor('OpenAI API key: ', attempt);
      pty.type(`wrong-key-${attempt}\r`);
    }
    expect(await pty.exit).toBe(2);
    const screen = pty.output();
    expect(screen.split('Error: This does not look like a valid OpenAI API key.').length - 1).toBe(3);
    expect(screen).toContain(
      "Hint: OpenAI API keys start with 'sk-' followed by at least 20 letters, digits, '_' or '-'.",
    );
    expect(screen).not.toContain('wrong-key');
    expect((await runCli(t.home, ['get', 'openai', '--connection', 'retry'])).code).toBe(3);
  });

  it('a second attempt can succeed', async () => {
    const pty = runInPty(t.home, ['login', 'openai', '--connection', 'second', '--no-browser']);
    await pty.waitFor('OpenAI API key: ');
    pty.type('nope\r');
    await pty.waitFor('OpenAI API key: ', 2);
    pty.type(`  ${KEY}  \r`);
    expect(await pty.exit).toBe(0);
    expect(pty.output()).toContain('Successfully logged in to openai (second).');
  });

  it('backspace edits what was typed', async () => {
    const pty = runInPty(t.home, ['login', 'openai', '--connection', 'edited', '--no-browser']);
    await pty.waitFor('OpenAI API key: ');
    pty.type(`${KEY}XYZ\u007f\u007f\u007f\r`);
    expect(await pty.exit).toBe(0);
    expect(
      (await runCli(t.home, ['get', 'openai', '--connection', 'edited', '--field', 'api_key', '--show-secret'])).stdout,
    ).toBe(`${KEY}\n`);
  });

  it('Ctrl-C cancels with exit 2 and stores nothing', async () => {
    const pty = runInPty(t.home, ['login', 'openai', '--connection', 'cancelled', '--no-browser']);
    await pty.waitFor('OpenAI API key: ');
    pty.type('sk-partial\u0003');
    expect(await pty.exit).toBe(2);
    expect(pty.output()).toContain('Error: Cancelled.');
    expect((await runCli(t.home, ['get', 'openai', '--connection', 'cancelled'])).code).toBe(3);
  });
});

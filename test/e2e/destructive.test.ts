// logout, revoke and remove: they ask first on a terminal (--yes skips it; never asked without one), keep their
// first line exactly, and add a line saying what they did not do: an API key stays valid at its provider.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempHome, runCli, type TempHome } from '../helpers/cli.js';
import { runInPty } from '../helpers/pty.js';

const GROQ_KEY = 'gsk_destructive0123456789abcdefXYZ';
const STILL_VALID =
  'The key was deleted from this machine only; it still works at Groq until you revoke it there: ' +
  'https://console.groq.com/keys.';

describe('destructive commands', () => {
  let t: TempHome;
  const cli = (args: string[], input?: string) => runCli(t.home, args, { input });
  const status = async (connection = 'default') =>
    (await cli(['get', 'groq', '--connection', connection, '--field', 'status'])).stdout.trim();

  beforeAll(() => {
    t = makeTempHome();
  });
  afterAll(async () => t.cleanup());

  it(
    'logout without a terminal does not ask, prints the ' + 'exact first line and says the key still works at Groq',
    async () => {
      expect((await cli(['login', 'groq', '--stdin'], `${GROQ_KEY}\n`)).code).toBe(0);
      const r = await cli(['logout', 'groq']);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('Logged out of groq (default).\n');
      expect(r.stderr).toBe(`${STILL_VALID}\n`);
      expect(r.stderr).not.toContain(GROQ_KEY);
    },
  );

  it('on a terminal, logout asks; "n" keeps the connection and exits 2, "y" removes it', async () => {
    expect((await cli(['login', 'groq', '--stdin'], `${GROQ_KEY}\n`)).code).toBe(0);
    const no = runInPty(t.home, ['logout', 'groq']);
    await no.waitFor('Delete the default connection of groq from this machine? [y/N]');
    no.type('n\r');
    expect(await no.exit).toBe(2);
    expect(no.output()).toContain('Cancelled.');
    expect(await status()).toBe('connected');

    const yes = runInPty(t.home, ['logout', 'groq']);
    await yes.waitFor('[y/N]');
    yes.type('y\r');
    expect(await yes.exit).toBe(0);
    expect(yes.output()).toContain('Logged out of groq (default).');
    expect((await cli(['get', 'groq', '--field', 'status'])).code).toBe(3);
  });

  it('--yes skips the question on a terminal', async () => {
    expect((await cli(['login', 'groq', '--stdin'], `${GROQ_KEY}\n`)).code).toBe(0);
    const session = runInPty(t.home, ['revoke', 'groq', '--yes']);
    expect(await session.exit).toBe(0);
    expect(session.output()).not.toContain('[y/N]');
    expect(session.output()).toContain('Revoked all credentials for groq.');
  });

  it(
    'revoke of several keys says so in the plural; remove ' + 'of a bundled provider says the definition stays',
    async () => {
      for (const c of ['default', 'team'])
        expect((await cli(['login', 'groq', '--stdin', '--connection', c], `${GROQ_KEY}\n`)).code).toBe(0);
      const revoked = await cli(['revoke', 'groq']);
      expect(revoked.stdout).toBe('Revoked all credentials for groq.\n');
      expect(revoked.stderr).toContain(
        'The keys were deleted from this machine only; they still work at Groq until you revoke them there: ' +
          'https://console.groq.com/keys.',
      );

      expect((await cli(['login', 'groq', '--stdin'], `${GROQ_KEY}\n`)).code).toBe(0);
      const removed = await cli(['remove', 'groq']);
      expect(removed.stdout).toBe('Removed provider groq.\n');
      expect(removed.stderr).toBe(
        `${STILL_VALID}\nThe bundled definition of groq stays: 'authsome login groq' connects it again.\n`,
      );
      // --quiet drops the informational lines, never the confirmation a script greps.
      const quiet = await cli(['remove', 'groq', '--quiet']);
      expect(quiet).toMatchObject({ code: 0, stderr: '' });
    },
  );
});

// The CLI's manners: help everywhere in one style, "did you mean" for commands, options and providers, provider
// names in any case, and a redacted secret never printed as if it were the value.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempHome, OPENAI_KEY, runCli, type TempHome } from '../helpers/cli.js';

describe('CLI manners', () => {
  let t: TempHome;
  const cli = (args: string[], input?: string) => runCli(t.home, args, { input });
  beforeAll(async () => {
    t = makeTempHome();
    expect((await cli(['login', 'openai', '--stdin'], `${OPENAI_KEY}\n`)).code).toBe(0);
  });
  afterAll(async () => t.cleanup());

  it('authsome alone prints the help on stdout and exits 0', async () => {
    const r = await cli([]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^authsome \S+: a local credential broker for AI agents\n/);
    expect(r.stdout).toContain('Global options:');
    expect(r.stderr).toBe('');
  });

  it('a command help has the top-level style: usage, arguments, options, global options, examples', async () => {
    for (const args of [
      ['get', '--help'],
      ['help', 'get'],
    ]) {
      const r = await cli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(
        /^authsome get: .+\n\nUsage: authsome get <provider> \[options\]\n\nArguments:\n {2}<provider> {2}/,
      );
      expect(r.stdout).toMatch(/\nOptions:\n {2}-c, --connection <name> +Connection name/);
      expect(r.stdout).toContain('\nGlobal options:\n  --json ');
      expect(r.stdout).toContain('\nExamples:\n  $ authsome get openai\n');
      expect(r.stdout).not.toMatch(/\u001b\[|USAGE|OPTIONS/);
    }
    const sub = await cli(['passphrase', 'set', '--help']);
    expect(sub.stdout).toMatch(/^authsome passphrase set: /);
    expect(sub.stdout).toContain('--passphrase-stdin');
    const parent = await cli(['daemon', '--help']);
    expect(parent.stdout).toMatch(/Usage: authsome daemon <command>\n\nCommands:\n {2}start +Start the server/);
  });

  it('suggests the nearest command, sub-command and option', async () => {
    expect(await cli(['lgoin', 'openai'])).toMatchObject({
      code: 2,
      stderr: "Error: Unknown command 'lgoin'.\nHint: Did you mean 'login'? Run 'authsome --help' for all commands.\n",
    });
    expect((await cli(['daemon', 'stauts'])).stderr).toContain("Did you mean 'status'?");
    expect(await cli(['get', 'openai', '--feild', 'status'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("Hint: Did you mean '--field'?"),
    });
    expect((await cli(['get', 'openai', '--bogus-flag'])).stderr).not.toContain('Did you mean');
  });

  it('suggests the nearest provider, and takes provider names in any case', async () => {
    const typo = await cli(['get', 'opnai']);
    expect(typo).toMatchObject({
      code: 4,
      stderr:
        "Error: Provider 'opnai' not found.\nHint: Did you mean 'openai'? Run 'authsome list' to see the " +
        'available providers.\n',
    });
    expect(await cli(['get', 'OpenAI', '--field', 'status'])).toMatchObject({ code: 0, stdout: 'connected\n' });
  });

  it('get --field api_key without --show-secret says how to show it instead of printing the redaction', async () => {
    const r = await cli(['get', 'openai', '--field', 'api_key']);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toBe(
      "Error: 'api_key' is a secret and is not printed without --show-secret.\n" +
        "Hint: Run 'authsome get openai --field api_key --show-secret' to print it, or 'authsome run -- " +
        "<command>' so that it never leaves authsome.\n",
    );
    expect(r.stderr).not.toContain(OPENAI_KEY);
  });
});

describe('the default connection is visible', () => {
  let t: TempHome;
  const cli = (args: string[], input?: string) => runCli(t.home, args, { input });
  beforeAll(() => {
    t = makeTempHome();
  });
  afterAll(async () => t.cleanup());

  it('list marks it, login without --connection says which it is, and "not logged in" says so plainly', async () => {
    const none = await cli(['get', 'anthropic']);
    expect(none.code).toBe(3);
    expect(none.stderr).toContain("Error: No connection for anthropic.\nHint: Run 'authsome login anthropic' first.\n");

    expect((await cli(['login', 'openai', '--connection', 'team', '--stdin'], `${OPENAI_KEY}\n`)).code).toBe(0);
    expect((await cli(['login', 'openai', '--connection', 'personal', '--stdin'], `${OPENAI_KEY}\n`)).code).toBe(0);
    const list = await cli(['list', '--connected']);
    expect(list.stdout).toMatch(/^Provider\s+Source\s+Auth\s+Connection\s+Default\s+Status\s+Expires$/m);
    expect(list.stdout).toMatch(/^openai\s+bundled\s+api_key\s+team\s+yes\s+connected\s+-$/m);
    expect(list.stdout).toMatch(/^openai\s+bundled\s+api_key\s+personal\s+no\s+connected\s+-$/m);

    const again = await cli(['login', 'openai'], '');
    expect(again).toMatchObject({ code: 0, stdout: 'Already logged in to openai (team). Use --force to overwrite.\n' });
    expect(again.stderr).toBe(
      "'team' is the default connection of openai. To add another connection: authsome login openai " +
        '--connection <name>\n',
    );
  });
});

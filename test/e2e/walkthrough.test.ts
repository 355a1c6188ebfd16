// The README's walkthrough, line by line, against the built CLI and a real background server (terminal paths).
import { execFileSync } from 'node:child_process';
import { writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestEnv, cliPath, makeTempHome, runCli, type TempHome } from '../helpers/cli.js';

const KEY = 'sk-walkthrough0123456789abcdefghij';
const PERSONAL = 'sk-personal0123456789abcdefghijkl';
const TEAM = 'sk-team0123456789abcdefghijklmnop';
const FORCED = 'sk-forced0123456789abcdefghijklmn';

describe('the walkthrough (terminal)', () => {
  let t: TempHome;
  const cli = (args: string[], input?: string) => runCli(t.home, args, { input });

  beforeAll(() => {
    t = makeTempHome();
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it('logs in from stdin and says so on stdout', async () => {
    const r = await cli(['login', 'openai'], `${KEY}\n`);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('Successfully logged in to openai (default).\n');
  });

  it('creates the home with private modes', () => {
    expect(statSync(t.home).mode & 0o777).toBe(0o700);
    for (const dir of ['providers', 'server', 'ca']) expect(statSync(join(t.home, dir)).mode & 0o777).toBe(0o700);
    for (const file of ['vault.json', 'master.key', 'server/state.json', 'server/token', 'audit.log']) {
      expect(statSync(join(t.home, file)).mode & 0o777, file).toBe(0o600);
    }
  });

  it('get --field status prints the bare value', async () => {
    const r = await cli(['get', 'openai', '--field', 'status']);
    expect(r).toMatchObject({ code: 0, stdout: 'connected\n' });
  });

  it('export --format env evals in a real shell to the key', () => {
    const out = execFileSync(
      '/bin/sh',
      ['-c', `eval "$(node ${cliPath} export openai --format env)"; printf %s "$OPENAI_API_KEY"`],
      {
        env: buildTestEnv(t.home),
      },
    ).toString();
    expect(out).toBe(KEY);
  });

  it('named connections are separate and addressable', async () => {
    expect((await cli(['login', 'openai', '--connection', 'personal'], `${PERSONAL}\n`)).stdout).toBe(
      'Successfully logged in to openai (personal).\n',
    );
    expect((await cli(['login', 'openai', '--connection', 'team'], `${TEAM}\n`)).stdout).toBe(
      'Successfully logged in to openai (team).\n',
    );
    const team = await cli(['get', 'openai', '--connection', 'team', '--field', 'api_key', '--show-secret']);
    expect(team.code).toBe(0);
    expect(team.stdout).toBe(`${TEAM}\n`);
    expect(team.stderr).toMatch(/^Warning: /m);
    const personal = await cli(['export', 'openai', '--connection', 'personal', '--format', 'env']);
    expect(personal.stdout).toBe(`OPENAI_API_KEY=${PERSONAL}\n`);
  });

  it('login without --force keeps the existing key; with --force replaces it', async () => {
    // Nothing handed over: a plain answer. A key handed over and not stored: exit 7, so a rotation script notices.
    const asked = await cli(['login', 'openai'], '');
    expect(asked).toMatchObject({
      code: 0,
      stdout: 'Already logged in to openai (default). Use --force to overwrite.\n',
    });
    for (const args of [
      ['login', 'openai'],
      ['login', 'openai', '--stdin'],
    ]) {
      const again = await cli(args, `${FORCED}\n`);
      expect(again).toMatchObject({
        code: 7,
        stdout: '',
        stderr:
          'Error: Already logged in to openai (default); the key that was given was not stored.\n' +
          `Hint: To replace the stored key, add --force: authsome login openai --stdin --force\n`,
      });
    }
    expect((await cli(['get', 'openai', '--field', 'api_key', '--show-secret'])).stdout).toBe(`${KEY}\n`);
    const forced = await cli(['login', 'openai', '--force'], `${FORCED}\n`);
    expect(forced.stdout).toBe('Successfully logged in to openai (default).\n');
    expect((await cli(['get', 'openai', '--field', 'api_key', '--show-secret'])).stdout).toBe(`${FORCED}\n`);
  });

  it('get without --field prints key: value lines with the secret redacted', async () => {
    const r = await cli(['get', 'openai']);
    expect(r.stdout).toContain('status: connected\n');
    expect(r.stdout).toContain('api_key: ***REDACTED***\n');
    expect(r.stdout).not.toContain(FORCED);
  });

  it('logout removes the default connection', async () => {
    const r = await cli(['logout', 'openai']);
    expect(r).toMatchObject({ code: 0, stdout: 'Logged out of openai (default).\n' });
    const gone = await cli(['get', 'openai', '--connection', 'default']);
    expect(gone.code).toBe(3);
  });

  it('remove clears every connection of the provider', async () => {
    const r = await cli(['remove', 'openai']);
    expect(r).toMatchObject({ code: 0, stdout: 'Removed provider openai.\n' });
    const list = await cli(['list']);
    expect(list.stdout).toMatch(/^openai\s+bundled\s+api_key\s+-\s+-\s+not_connected\s+-$/m);
  });

  it('inspect > providers/openai.json round-trips and list shows source custom', async () => {
    const inspected = await cli(['inspect', 'openai']);
    expect(inspected.code).toBe(0);
    expect(inspected.stderr).toBe('');
    const definition = JSON.parse(inspected.stdout);
    expect(definition.name).toBe('openai');
    writeFileSync(join(t.home, 'providers', 'openai.json'), inspected.stdout);
    const list = await cli(['list']);
    expect(list.stdout).toMatch(/^openai\s+custom\s+api_key/m);
    expect(list.stderr).toBe('');
    const again = await cli(['inspect', 'openai']);
    expect(again.stdout).toBe(inspected.stdout);
  });

  it('list has the totals header line', async () => {
    await cli(['login', 'anthropic'], 'sk-ant-abcdefghijklmnopqrstuvwxyz\n');
    const r = await cli(['list']);
    expect(r.stdout.split('\n')[0]).toMatch(/^Providers: 61 total, 1 connected$/);
    const connected = await cli(['list', '--connected']);
    expect(connected.stdout).toMatch(/^anthropic\s+bundled\s+api_key\s+default\s+yes\s+connected/m);
    expect(connected.stdout).not.toMatch(/^openai/m);
  });
});

// Recovering a vault as a first-time user would, against the built CLI and a real home: the printed hint works
// without a restart, a vault.json changed underneath the server is never written over, a new vault among an old
// one's files is announced, and a damaged vault is called damaged (not locked) by whoami and doctor.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeTempHome, runCli, stopHomeServer, type TempHome } from '../helpers/cli.js';

const key = (n: number) => `sk-recov${String(n).padStart(4, '0')}abcdefghijklmnopqrstuvwx`;

describe('vault recovery', () => {
  let t: TempHome;
  const cli = (args: string[], input?: string) => runCli(t.home, args, { input });
  const vaultPath = () => join(t.home, 'vault.json');
  const backupPath = () => join(t.home, 'vault.json.bak');
  const listConnections = async (): Promise<string[]> => {
    const r = await cli(['list', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const openai = JSON.parse(r.stdout).providers.find((p: { name: string }) => p.name === 'openai');
    return openai.connections.map((c: { connection: string }) => c.connection).sort();
  };
  /** Runs the `cp …` the hint printed, word for word, as the person would paste it. */
  const followCpHint = (stderr: string) => {
    const command = /^Hint: .*'(cp [^']+)'/m.exec(stderr)?.[1];
    expect(command, stderr).toBeDefined();
    execFileSync('sh', ['-c', command!]);
  };

  beforeEach(() => {
    t = makeTempHome();
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('vault.json deleted: the printed cp hint, followed while the server runs, brings the vault back', async () => {
    expect((await cli(['login', 'openai'], `${key(1)}\n`)).code).toBe(0);
    expect((await cli(['login', 'openai', '--connection', 'second'], `${key(2)}\n`)).code).toBe(0);
    await stopHomeServer(t.home);
    rmSync(vaultPath());

    const damaged = await cli(['list']);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toContain(
      `Error: The vault at ${vaultPath()} is missing, but its backup ${backupPath()} exists.`,
    );
    expect(existsSync(vaultPath())).toBe(false);

    followCpHint(damaged.stderr);
    // The same server (no restart) now reads the restored file: the backup holds the write before the last one,
    // and the last one was the audit checkpoint saved at shutdown, so both connections are back.
    const pid = JSON.parse(readFileSync(join(t.home, 'server', 'state.json'), 'utf8')).pid;
    expect(await listConnections()).toEqual(['default', 'second']);
    expect(JSON.parse(readFileSync(join(t.home, 'server', 'state.json'), 'utf8')).pid).toBe(pid);
    expect((await cli(['get', 'openai', '--field', 'api_key', '--show-secret'])).stdout).toBe(`${key(1)}\n`);
  });

  it('a vault.json that does not parse: the cp hint works while the server runs', async () => {
    expect((await cli(['login', 'openai'], `${key(3)}\n`)).code).toBe(0);
    expect((await cli(['login', 'openai', '--connection', 'second'], `${key(4)}\n`)).code).toBe(0);
    writeFileSync(vaultPath(), '{"version": 1, "mode": "keyfile", "kdf": trunc');
    const damaged = await cli(['login', 'openai', '--connection', 'third'], `${key(5)}\n`);
    expect(damaged.code).toBe(1);
    expect(damaged.stderr).toContain('was changed by another program since authsome read it');
    await stopHomeServer(t.home);
    const r = await cli(['list']);
    expect(r.stderr).toContain('is damaged: it is not valid JSON.');
    followCpHint(r.stderr);
    expect(await listConnections()).toEqual(['default']);
  });

  it(
    'vault.json replaced under a running server: the write is refused, nothing is written, doctor and whoami ' +
      'say why',
    async () => {
      expect((await cli(['login', 'openai'], `${key(10)}\n`)).code).toBe(0);
      expect((await cli(['login', 'openai', '--connection', 'second'], `${key(11)}\n`)).code).toBe(0);
      // Another program puts an older copy of the vault in place while the server holds it unlocked.
      copyFileSync(backupPath(), vaultPath());
      const onDisk = readFileSync(vaultPath(), 'utf8');
      const backup = readFileSync(backupPath(), 'utf8');

      const login = await cli(['login', 'openai', '--connection', 'third'], `${key(12)}\n`);
      expect(login.code).toBe(1);
      expect(login.stderr).toContain(
        `Error: The vault at ${vaultPath()} was changed by another program since authsome read it; authsome ` +
          `wrote nothing over it.\n`,
      );
      expect(login.stderr).toMatch(/^Hint: .*'authsome daemon restart'/m);
      expect(readFileSync(vaultPath(), 'utf8')).toBe(onDisk);
      expect(readFileSync(backupPath(), 'utf8')).toBe(backup);

      const doctor = await cli(['doctor']);
      expect(doctor.code).toBe(1);
      expect(doctor.stdout).toMatch(/^✗ Vault: The vault at .* was changed by another program since authsome read it/m);
      expect(doctor.stdout).toMatch(
        /^ {2}Hint: To use the file as it is now, restart the server \('authsome daemon restart'\)/m,
      );
      const whoami = await cli(['whoami']);
      expect(whoami.stdout).toMatch(/^Vault: .*\(keyfile, damaged\)$/m);
      expect(readFileSync(vaultPath(), 'utf8')).toBe(onDisk);

      // Following the hint: after a restart the server uses the file as it is now.
      expect((await cli(['daemon', 'restart'])).code).toBe(0);
      expect(await listConnections()).toEqual(['default']);
    },
  );

  it(
    'vault.json deleted under a running server: nothing is created, doctor says so, and the cp hint restores ' + 'it',
    async () => {
      expect((await cli(['login', 'openai'], `${key(20)}\n`)).code).toBe(0);
      expect((await cli(['login', 'openai', '--connection', 'second'], `${key(21)}\n`)).code).toBe(0);
      rmSync(vaultPath());
      const login = await cli(['login', 'openai', '--connection', 'third'], `${key(22)}\n`);
      expect(login.code).toBe(1);
      expect(login.stderr).toContain(
        `Error: The vault at ${vaultPath()} was deleted by another program while authsome was running; ` +
          `authsome did not create a new one.\n`,
      );
      expect(existsSync(vaultPath())).toBe(false);
      const doctor = await cli(['doctor']);
      expect(doctor.code).toBe(1);
      expect(doctor.stdout).toMatch(/^✗ Vault: The vault at .* was deleted by another program/m);
      expect(existsSync(vaultPath())).toBe(false);

      followCpHint(login.stderr);
      expect(await listConnections()).toEqual(['default']);
    },
  );

  it('whoami calls a damaged vault damaged, not locked, in text and --json', async () => {
    expect((await cli(['login', 'openai'], `${key(30)}\n`)).code).toBe(0);
    await stopHomeServer(t.home);
    rmSync(vaultPath());
    const text = await cli(['whoami']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^Vault: .*\(keyfile, damaged\)$/m);
    expect(text.stdout).toMatch(/^Connections: unknown \(vault damaged; 'authsome doctor' says why\)$/m);
    expect(text.stdout).not.toContain('locked');
    const json = JSON.parse((await cli(['whoami', '--json'])).stdout);
    expect(json.vault).toMatchObject({ state: 'damaged', error: { error: 'VAULT_DAMAGED' } });
    expect(json.vault.error.message).toContain(`The vault at ${vaultPath()} is missing`);
    expect(json.connections).toBeNull();
    const doctor = await cli(['doctor', '--json']);
    expect(doctor.code).toBe(1);
    const vaultCheck = JSON.parse(doctor.stdout).checks.find((c: { name: string }) => c.name === 'Vault');
    expect(vaultCheck).toMatchObject({
      verdict: 'fail',
      hint: expect.stringContaining(`'cp ${backupPath()} ${vaultPath()}'`),
    });
  });

  it(
    'no vault but an earlier one left state behind: a warning on the CLI that started the server and in its ' + 'log',
    async () => {
      expect((await cli(['login', 'openai'], `${key(40)}\n`)).code).toBe(0);
      await stopHomeServer(t.home);
      mkdirSync(join(t.home, 'ca'), { recursive: true });
      writeFileSync(join(t.home, 'ca', 'ca.pem'), 'an earlier CA certificate\n', { mode: 0o600 });
      rmSync(vaultPath());
      rmSync(backupPath());

      const r = await cli(['whoami']);
      expect(r.code).toBe(0);
      const warning =
        `Warning: No vault found at ${vaultPath()}; creating a new, empty one (state from an earlier vault ` +
        `exists in ${t.home}: master.key, ca/ca.pem, audit.log).`;
      expect(r.stderr).toContain(`${warning}\n`);
      expect(readFileSync(join(t.home, 'server', 'server.log'), 'utf8')).toContain(warning);
      expect(await listConnections()).toEqual([]);
    },
  );

  it('a fresh home stays silent', async () => {
    const r = await cli(['whoami']);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('Warning');
    expect(readFileSync(join(t.home, 'server', 'server.log'), 'utf8')).not.toContain('Warning');
  });
});

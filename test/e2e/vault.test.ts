// The vault as a user meets it: passphrase mode, lock/unlock, the idle lock, a damaged file, concurrent
// logins, and a server killed while writing.
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deriveKey } from '../../src/vault/kdf.js';
import { open as openSealed, seal } from '../../src/vault/seal.js';
import {
  makeTempHome,
  readServerState,
  readVaultRecords,
  runCli,
  spawnCli,
  stopHomeServer,
  type TempHome,
} from '../helpers/cli.js';

const key = (n: number | string) => `sk-vault${String(n).padStart(4, '0')}abcdefghijklmnopqrstuvwx`;
const PASSPHRASE = 'correct horse battery staple';

describe('vault', () => {
  let t: TempHome;
  const cli = (args: string[], input?: string, env?: NodeJS.ProcessEnv) => runCli(t.home, args, { input, env });
  const vaultPath = () => join(t.home, 'vault.json');

  beforeEach(() => {
    t = makeTempHome();
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('passphrase set → locked after restart → wrong/right unlock → lock → passphrase remove', async () => {
    expect((await cli(['login', 'openai'], `${key(1)}\n`)).code).toBe(0);
    const set = await cli(['passphrase', 'set', '--passphrase-stdin'], `${PASSPHRASE}\n`);
    expect(set.code).toBe(0);
    expect(existsSync(join(t.home, 'master.key'))).toBe(false);
    expect(JSON.parse(readFileSync(vaultPath(), 'utf8')).mode).toBe('passphrase');
    expect(JSON.parse(readFileSync(`${vaultPath()}.bak`, 'utf8')).mode).toBe('passphrase');

    await stopHomeServer(t.home);
    const locked = await cli(['get', 'openai', '--field', 'status']);
    expect(locked.code).toBe(2);
    expect(locked.stderr).toMatch(/(^|\n)Error: The vault is locked\.\nHint: Run 'authsome unlock'\.\n$/);

    const wrong = await cli(['unlock', '--passphrase-stdin'], 'not the passphrase\n');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(
      new RegExp(
        `^Error: Wrong passphrase for the vault at ${vaultPath().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\n`,
      ),
    );

    const right = await cli(['unlock', '--passphrase-stdin'], `${PASSPHRASE}\n`);
    expect(right).toMatchObject({ code: 0, stdout: 'Vault unlocked.\n' });
    expect((await cli(['get', 'openai', '--field', 'status'])).stdout).toBe('connected\n');

    expect((await cli(['lock'])).stdout).toBe('Vault locked.\n');
    expect((await cli(['get', 'openai'])).code).toBe(2);
    // AUTHSOME_PASSPHRASE in the CLI's environment unlocks on demand.
    const viaEnv = await cli(['get', 'openai', '--field', 'status'], undefined, { AUTHSOME_PASSPHRASE: PASSPHRASE });
    expect(viaEnv.stdout).toBe('connected\n');

    const removed = await cli(['passphrase', 'remove', '--passphrase-stdin'], `${PASSPHRASE}\n`);
    expect(removed.code).toBe(0);
    expect(statSync(join(t.home, 'master.key')).mode & 0o777).toBe(0o600);
    await stopHomeServer(t.home);
    expect((await cli(['get', 'openai', '--field', 'api_key', '--show-secret'])).stdout).toBe(`${key(1)}\n`);
  });

  it('AUTHSOME_PASSPHRASE unlocks the server at start', async () => {
    await cli(['login', 'openai'], `${key(2)}\n`);
    await cli(['passphrase', 'set', '--passphrase-stdin'], `${PASSPHRASE}\n`);
    await stopHomeServer(t.home);
    await cli(['daemon', 'start'], undefined, { AUTHSOME_PASSPHRASE: PASSPHRASE });
    expect((await cli(['get', 'openai', '--field', 'status'])).stdout).toBe('connected\n');
    expect((await cli(['whoami'])).stdout).toMatch(/^Vault: .*\(passphrase, unlocked\)$/m);
  });

  it('a short passphrase is refused and nothing changes', async () => {
    await cli(['login', 'openai'], `${key(3)}\n`);
    // The server checkpoints the audit head into the vault on its own; every record a user made must be unchanged.
    const before = readVaultRecords(t.home);
    const keyBefore = readFileSync(join(t.home, 'master.key'));
    const r = await cli(['passphrase', 'set', '--passphrase-stdin'], 'short\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error: The passphrase is too short/);
    expect(readVaultRecords(t.home)).toEqual(before);
    expect(before.mode).toBe('keyfile');
    expect(Object.keys(before.records)).toContain('connection:openai:default');
    expect(readFileSync(join(t.home, 'master.key')).equals(keyBefore)).toBe(true);
    expect((await cli(['get', 'openai', '--field', 'api_key', '--show-secret'])).stdout).toBe(`${key(3)}\n`);
  });

  it('serve --lock-after locks an idle passphrase vault', async () => {
    await cli(['login', 'openai'], `${key(4)}\n`);
    await cli(['passphrase', 'set', '--passphrase-stdin'], `${PASSPHRASE}\n`);
    await stopHomeServer(t.home);
    const server = spawnCli(t.home, ['serve', '--lock-after', '1s'], { AUTHSOME_PASSPHRASE: PASSPHRASE });
    try {
      for (let i = 0; i < 100 && !readServerState(t.home); i++) await new Promise((r) => setTimeout(r, 50));
      // Unlocked at start; locked once it has been idle a second. Asked until it says so (each ask is one use, so
      // the asks are spaced by the CLI's own start-up time, well under the second).
      const first = await cli(['get', 'openai', '--field', 'status']);
      expect(first).toMatchObject({ code: 0, stdout: 'connected\n' });
      let r = first;
      for (const deadline = Date.now() + 15_000; r.code === 0 && Date.now() < deadline; ) {
        await new Promise((res) => setTimeout(res, 1_200));
        r = await cli(['get', 'openai']);
      }
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('The vault is locked.');
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('a damaged vault.json: clear error naming the file and .bak, and the server writes nothing', async () => {
    await cli(['login', 'openai'], `${key(5)}\n`);
    await cli(['login', 'openai', '--connection', 'second'], `${key(6)}\n`);
    await stopHomeServer(t.home);
    const damaged = '{"version": 1, "mode": "keyfile", "kdf": trunc';
    writeFileSync(vaultPath(), damaged);
    const backup = readFileSync(`${vaultPath()}.bak`, 'utf8');

    const r = await cli(['get', 'openai']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Error: The vault at ${vaultPath()} is damaged: it is not valid JSON.`);
    expect(r.stderr).toMatch(/^Hint: .*vault\.json\.bak/m);
    const login = await cli(['login', 'openai', '--connection', 'third'], `${key(7)}\n`);
    expect(login.code).toBe(1);
    expect((await cli(['doctor'])).code).toBe(1);
    expect(readFileSync(vaultPath(), 'utf8')).toBe(damaged);
    expect(readFileSync(`${vaultPath()}.bak`, 'utf8')).toBe(backup);

    // Following the hint restores the previous write (the first login).
    await cli(['daemon', 'stop']);
    copyFileSync(`${vaultPath()}.bak`, vaultPath());
    expect((await cli(['get', 'openai', '--connection', 'default', '--field', 'status'])).stdout).toBe('connected\n');
  });

  it('a record altered on disk is reported as damaged, not silently dropped', async () => {
    await cli(['login', 'openai'], `${key(8)}\n`);
    await stopHomeServer(t.home);
    const file = JSON.parse(readFileSync(vaultPath(), 'utf8'));
    const id = Object.keys(file.records).find((k: string) => k.startsWith('connection:'))!;
    const data = Buffer.from(file.records[id].data, 'base64');
    data[0] = data[0]! ^ 0xff;
    file.records[id].data = data.toString('base64');
    writeFileSync(vaultPath(), JSON.stringify(file));
    const r = await cli(['list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`The vault at ${vaultPath()} is damaged: record '${id}' failed authentication.`);
  });

  describe('a vault.json pieced together by someone who can write the file', () => {
    const readVault = () => JSON.parse(readFileSync(vaultPath(), 'utf8'));
    const writeVault = (file: unknown) => writeFileSync(vaultPath(), JSON.stringify(file, null, 2));
    const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

    async function expectDamaged(detail: string): Promise<void> {
      const before = readFileSync(vaultPath(), 'utf8');
      const r = await cli(['get', 'openai', '--field', 'status']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `^Error: The vault at ${escapeRegExp(vaultPath())} is damaged: ${escapeRegExp(detail)}\\.\nHint: ` +
            `.*cp ${escapeRegExp(vaultPath())}\\.bak`,
          'm',
        ),
      );
      expect(readFileSync(vaultPath(), 'utf8')).toBe(before);
      await cli(['daemon', 'stop']);
    }

    it(
      'a deleted record, or a rotated key put back from an earlier copy, is damage; the whole .bak still ' + 'restores',
      async () => {
        await cli(['login', 'openai'], `${key(10)}\n`);
        await cli(['login', 'openai', '--connection', 'second'], `${key(11)}\n`);
        const beforeRotation = readVault();
        expect((await cli(['login', 'openai', '--stdin', '--force'], `${key(12)}\n`)).code).toBe(0);
        await stopHomeServer(t.home);
        const current = readFileSync(vaultPath(), 'utf8');
        const recordId = 'connection:openai:default';
        expect(Object.keys(beforeRotation.records)).toContain(recordId);

        // The rotated key rolled back to the one it replaced, everything else current.
        const rolledBack = JSON.parse(current);
        rolledBack.records[recordId] = beforeRotation.records[recordId];
        writeVault(rolledBack);
        await expectDamaged('its records do not match its integrity seal');

        // A connection deleted.
        const deleted = JSON.parse(current);
        delete deleted.records['connection:openai:second'];
        writeVault(deleted);
        await expectDamaged('its records do not match its integrity seal');

        // Two records swapping sealed values (the record id bound into each seal catches it).
        const swapped = JSON.parse(current);
        [swapped.records[recordId], swapped.records['connection:openai:second']] = [
          swapped.records['connection:openai:second'],
          swapped.records[recordId],
        ];
        writeVault(swapped);
        await expectDamaged(`record '${recordId}' failed authentication`);

        // The seal removed.
        const stripped = JSON.parse(current);
        delete stripped.integrity;
        writeVault(stripped);
        await expectDamaged('its integrity seal is missing');

        // Following the hint: the previous write restored whole opens. The last write was the audit checkpoint saved
        // at shutdown, so the one before it already holds the rotated key.
        copyFileSync(`${vaultPath()}.bak`, vaultPath());
        expect((await cli(['get', 'openai', '--field', 'api_key', '--show-secret'])).stdout).toBe(`${key(12)}\n`);
        expect((await cli(['get', 'openai', '--connection', 'second', '--field', 'status'])).stdout).toBe(
          'connected\n',
        );
      },
    );

    it('a vault from before the seal opens, is sealed by its next write, and then cannot lose the seal', async () => {
      await cli(['login', 'openai'], `${key(13)}\n`);
      await stopHomeServer(t.home);
      // Turn the vault into what the previous version wrote: no integrity field, the data key wrapped under the
      // old additional data. Only the key file makes that possible, as only the key file could have made it then.
      const file = readVault();
      const kek = await deriveKey(readFileSync(join(t.home, 'master.key')), file.kdf);
      const dataKey = openSealed(kek, file.key, 'authsome:data-key:sealed-vault');
      delete file.integrity;
      file.key = seal(kek, dataKey, 'authsome:data-key');
      writeVault(file);

      expect((await cli(['get', 'openai', '--field', 'api_key', '--show-secret'])).stdout).toBe(`${key(13)}\n`);
      expect(readVault().integrity).toBeUndefined();
      expect((await cli(['login', 'openai', '--connection', 'second'], `${key(14)}\n`)).code).toBe(0);
      expect(readVault().integrity).toMatchObject({ generation: 1 });
      await stopHomeServer(t.home);
      expect((await cli(['get', 'openai', '--connection', 'second', '--field', 'status'])).stdout).toBe('connected\n');
      await stopHomeServer(t.home);

      const sealed = readVault();
      delete sealed.integrity;
      writeVault(sealed);
      await expectDamaged('its integrity seal is missing');
    });

    it('passphrase set and remove keep the seal valid', async () => {
      await cli(['login', 'openai'], `${key(15)}\n`);
      expect((await cli(['passphrase', 'set', '--passphrase-stdin'], `${PASSPHRASE}\n`)).code).toBe(0);
      await stopHomeServer(t.home);
      expect((await cli(['unlock', '--passphrase-stdin'], `${PASSPHRASE}\n`)).code).toBe(0);
      expect((await cli(['get', 'openai', '--field', 'status'])).stdout).toBe('connected\n');
      expect((await cli(['passphrase', 'remove', '--passphrase-stdin'], `${PASSPHRASE}\n`)).code).toBe(0);
      await stopHomeServer(t.home);
      expect((await cli(['get', 'openai', '--field', 'api_key', '--show-secret'])).stdout).toBe(`${key(15)}\n`);
      await stopHomeServer(t.home);
      const generation = readVault().integrity.generation;
      expect(generation).toBeGreaterThanOrEqual(3);

      const deleted = readVault();
      deleted.records = {};
      writeVault(deleted);
      await expectDamaged('its records do not match its integrity seal');
    });
  });

  it('20 parallel `login --stdin --connection cN` → 20 connections stored', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        cli(['login', 'openai', '--stdin', '--connection', `c${i}`], `${key(100 + i)}\n`),
      ),
    );
    for (const [i, r] of results.entries())
      expect(r, r.stderr).toMatchObject({ code: 0, stdout: `Successfully logged in to openai (c${i}).\n` });
    const list = await cli(['list', '--json']);
    const openai = JSON.parse(list.stdout).providers.find((p: { name: string }) => p.name === 'openai');
    expect(openai.connections).toHaveLength(20);
    await stopHomeServer(t.home);
    for (const i of [0, 7, 19]) {
      expect(
        (await cli(['get', 'openai', '--connection', `c${i}`, '--field', 'api_key', '--show-secret'])).stdout,
      ).toBe(`${key(100 + i)}\n`);
    }
  });

  it('SIGKILL of the server during writes: the vault still opens with every earlier record', async () => {
    expect((await cli(['daemon', 'start'])).code).toBe(0);
    const pid = readServerState(t.home)!.pid;
    const done: number[] = [];
    const logins = Array.from({ length: 30 }, (_, i) =>
      cli(['login', 'openai', '--stdin', '--connection', `k${i}`], `${key(200 + i)}\n`, {
        AUTHSOME_NO_AUTOSTART: '1',
      }).then((r) => {
        if (r.code === 0) done.push(i);
        return r;
      }),
    );
    // Kill once some logins have landed and others are still writing.
    for (let i = 0; i < 1_000 && done.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    process.kill(pid, 'SIGKILL');
    const results = await Promise.all(logins);
    const succeeded = results.flatMap((r, i) => (r.code === 0 ? [i] : []));
    expect(succeeded.length).toBeGreaterThanOrEqual(3);
    expect(results.some((r) => r.code === 9)).toBe(true);

    const list = await cli(['list', '--json']);
    expect(list.code).toBe(0);
    const stored = JSON.parse(list.stdout)
      .providers.find((p: { name: string }) => p.name === 'openai')
      .connections.map((c: { connection: string }) => c.connection);
    for (const i of succeeded) expect(stored).toContain(`k${i}`);
  });
});

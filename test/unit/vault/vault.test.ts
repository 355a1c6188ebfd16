// The vault service over real files in a temp directory: creation, records, backups, damage detection (never
// overwriting what it could not read), passphrase mode, concurrency and KDF parameters read from the file.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../../../src/errors.js';
import { createVault, type Vault, type VaultPaths } from '../../../src/vault/vault.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';
import { rejected, caught } from '../../helpers/app-errors.js';
import { writeLegacyVault } from '../../helpers/legacy-vault.js';

const CHEAP = { memory_kib: 1024, iterations: 1 };
const CANARY = 'sk-CANARY-7f3a9c1e5b2d4f6a8c0e';
const PASSPHRASE = 'correct horse battery staple';

let tmp: TempDir;
let paths: VaultPaths;

beforeEach(async () => {
  tmp = await makeTempDir('vault');
  paths = {
    vault: join(tmp.path, 'vault.json'),
    vaultBackup: join(tmp.path, 'vault.json.bak'),
    masterKey: join(tmp.path, 'master.key'),
  };
});
afterEach(() => tmp.cleanup());

async function openVault(kdf: { memory_kib?: number; iterations?: number } = CHEAP): Promise<Vault> {
  const vault = createVault({ paths, kdf });
  await vault.open();
  return vault;
}

function fileMode(path: string): number {
  return statSync(path).mode & 0o777;
}

function readJson(path: string): Record<string, any> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, any>;
}

function snapshot(): Map<string, Buffer> {
  return new Map(readdirSync(tmp.path).map((name) => [name, readFileSync(join(tmp.path, name))]));
}

describe('first open', () => {
  it('creates an unlocked keyfile vault with a 32-byte master.key, both 0600', async () => {
    const vault = await openVault();
    expect(vault.status()).toEqual({ path: paths.vault, mode: 'keyfile', state: 'unlocked', records: 0 });
    expect(readFileSync(paths.masterKey)).toHaveLength(32);
    expect(fileMode(paths.masterKey)).toBe(0o600);
    expect(fileMode(paths.vault)).toBe(0o600);
    expect(existsSync(paths.vaultBackup)).toBe(false);
  });

  it('writes vault.json in its documented shape with the KDF parameters it used', async () => {
    await openVault();
    const file = readJson(paths.vault);
    expect(file.version).toBe(1);
    expect(file.mode).toBe('keyfile');
    expect(file.kdf).toMatchObject({ alg: 'argon2id', memory_kib: 1024, iterations: 1, parallelism: 1 });
    expect(Buffer.from(file.kdf.salt, 'base64')).toHaveLength(16);
    expect(Object.keys(file.key).sort()).toEqual(['data', 'iv', 'tag']);
    expect(Buffer.from(file.key.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(file.key.data, 'base64')).toHaveLength(32);
    expect(file.records).toEqual({});
  });

  it('reuses an existing master.key instead of replacing it', async () => {
    const master = Buffer.alloc(32, 7);
    writeFileSync(paths.masterKey, master, { mode: 0o600 });
    await openVault();
    expect(readFileSync(paths.masterKey).equals(master)).toBe(true);
    expect((await openVault()).status().state).toBe('unlocked');
  });

  it('uses the default cost (m=65536, t=3, p=1) when no KDF option is given', async () => {
    const vault = createVault({ paths });
    await vault.open();
    expect(readJson(paths.vault).kdf).toMatchObject({
      alg: 'argon2id',
      memory_kib: 65536,
      iterations: 3,
      parallelism: 1,
    });
    await vault.put('ca:key', { pem: 'x' });
    expect(vault.get('ca:key')).toEqual({ pem: 'x' });
  });
});

describe('records', () => {
  it('put, get, list and remove', async () => {
    const vault = await openVault();
    await vault.put('connection:openai:default', { api_key: CANARY });
    await vault.put('connection:openai:team', { api_key: 'sk-team' });
    await vault.put('provider-state:openai', { default_connection: 'default' });

    expect(vault.get('connection:openai:default')).toEqual({ api_key: CANARY });
    expect(vault.get('connection:nobody:default')).toBeUndefined();
    expect(vault.list('connection:openai:')).toEqual(['connection:openai:default', 'connection:openai:team']);
    expect(vault.list('provider-state:')).toEqual(['provider-state:openai']);
    expect(vault.status().records).toBe(3);

    expect(await vault.remove('connection:openai:team')).toBe(true);
    expect(await vault.remove('connection:openai:team')).toBe(false);
    expect(vault.get('connection:openai:team')).toBeUndefined();
    expect(vault.list('connection:')).toEqual(['connection:openai:default']);
  });

  it('hands out copies: changing a value after put or after get does not change the vault', async () => {
    const vault = await openVault();
    const value = { api_key: 'a', scopes: ['x'] };
    await vault.put('id', value);
    value.scopes.push('y');
    const got = vault.get<typeof value>('id')!;
    got.api_key = 'changed';
    expect(vault.get('id')).toEqual({ api_key: 'a', scopes: ['x'] });
  });

  it('apply() makes several changes in one go', async () => {
    const vault = await openVault();
    await vault.put('a', 1);
    await vault.apply([
      { id: 'a', delete: true },
      { id: 'b', value: 2 },
      { id: 'c', value: 3 },
    ]);
    expect(vault.list('')).toEqual(['b', 'c']);
    const reopened = await openVault();
    expect(reopened.list('')).toEqual(['b', 'c']);
    expect(reopened.get('c')).toBe(3);
  });

  it('a new vault instance on the same paths sees every record', async () => {
    const vault = await openVault();
    await vault.put('connection:openai:default', { api_key: CANARY, n: 1 });
    await vault.put('ca:key', 'PEM');
    await vault.put('gone', true);
    await vault.remove('gone');
    const reopened = await openVault();
    expect(reopened.status()).toMatchObject({ state: 'unlocked', mode: 'keyfile', records: 2 });
    expect(reopened.get('connection:openai:default')).toEqual({ api_key: CANARY, n: 1 });
    expect(reopened.get('ca:key')).toBe('PEM');
    expect(reopened.get('gone')).toBeUndefined();
  });

  it('never writes a secret in the clear to vault.json or vault.json.bak', async () => {
    const vault = await openVault();
    await vault.put('connection:openai:default', { api_key: CANARY });
    await vault.put('connection:openai:team', { api_key: CANARY });
    const needles = [
      CANARY,
      Buffer.from(CANARY).toString('base64'),
      Buffer.from(JSON.stringify({ api_key: CANARY })).toString('base64'),
    ];
    for (const path of [paths.vault, paths.vaultBackup]) {
      const text = readFileSync(path, 'utf8');
      for (const needle of needles) expect(text, path).not.toContain(needle);
    }
  });

  it('keeps the previous version in vault.json.bak on every write, also 0600', async () => {
    const vault = await openVault();
    await vault.put('a', 1);
    const before = readFileSync(paths.vault, 'utf8');
    await vault.put('b', 2);
    expect(readFileSync(paths.vaultBackup, 'utf8')).toBe(before);
    expect(fileMode(paths.vaultBackup)).toBe(0o600);
    expect(Object.keys(readJson(paths.vaultBackup).records)).toEqual(['a']);
    expect(Object.keys(readJson(paths.vault).records).sort()).toEqual(['a', 'b']);
  });

  it('binds each sealed record to its id: a record moved to another id makes the vault damaged', async () => {
    const vault = await openVault();
    await vault.put('connection:openai:default', { api_key: CANARY });
    const file = readJson(paths.vault);
    file.records['connection:openai:attacker'] = file.records['connection:openai:default'];
    writeFileSync(paths.vault, JSON.stringify(file));
    const reopened = await openVault();
    expect(reopened.status().state).toBe('damaged');
    expect(reopened.status().error!.message).toContain("record 'connection:openai:attacker' failed authentication");
  });
});

describe('a damaged vault is reported and never written', () => {
  async function seeded(): Promise<void> {
    const vault = await openVault();
    await vault.put('connection:openai:default', { api_key: CANARY });
    await vault.put('connection:openai:team', { api_key: 'sk-team' });
  }

  it('one tampered record: status damaged with the path, bytes unchanged, put() and get() refuse', async () => {
    await seeded();
    const file = readJson(paths.vault);
    const sealed = file.records['connection:openai:team'];
    const data = Buffer.from(sealed.data, 'base64');
    data[0] = data[0]! ^ 0xff;
    sealed.data = data.toString('base64');
    writeFileSync(paths.vault, JSON.stringify(file, null, 2));
    const before = snapshot();

    const vault = await openVault();
    const status = vault.status();
    expect(status.state).toBe('damaged');
    expect(status.error!.code).toBe('VAULT_DAMAGED');
    expect(status.error!.message).toBe(
      `The vault at ${paths.vault} is damaged: record 'connection:openai:team' failed authentication.`,
    );
    expect(status.error!.hint).toContain(`${paths.vault}.bak`);

    expect((await rejected(vault.put('x', 1))).code).toBe('VAULT_DAMAGED');
    expect(caught(() => vault.get('connection:openai:default')).code).toBe('VAULT_DAMAGED');
    expect(caught(() => vault.list('')).code).toBe('VAULT_DAMAGED');
    expect((await rejected(vault.setPassphrase(PASSPHRASE))).code).toBe('VAULT_DAMAGED');
    expect(snapshot()).toEqual(before);
  });

  it('invalid JSON: damaged, and neither vault.json nor vault.json.bak is touched by later calls', async () => {
    await seeded();
    writeFileSync(paths.vault, '{"version": 1, "records": {');
    const before = snapshot();

    const vault = await openVault();
    expect(vault.status().state).toBe('damaged');
    expect(vault.status().error!.message).toBe(`The vault at ${paths.vault} is damaged: it is not valid JSON.`);
    await rejected(vault.put('x', 1));
    await rejected(vault.remove('connection:openai:default'));
    await rejected(vault.apply([{ id: 'y', value: 2 }]));
    await rejected(vault.unlock(PASSPHRASE));
    await rejected(vault.removePassphrase(PASSPHRASE));
    expect(() => vault.lock()).toThrow(AppError);
    await vault.open();
    expect(vault.status().state).toBe('damaged');
    expect(snapshot()).toEqual(before);
  });

  it('a file of the wrong shape or version is damaged, not replaced', async () => {
    await seeded();
    const file = readJson(paths.vault);
    writeFileSync(paths.vault, JSON.stringify({ ...file, version: 99 }));
    const before = snapshot();
    const vault = await openVault();
    expect(vault.status().error!.message).toBe(
      `The vault at ${paths.vault} is damaged: unsupported format version 99.`,
    );
    writeFileSync(paths.vault, '[]');
    await vault.open();
    expect(vault.status().error!.message).toContain('is damaged: it does not contain a JSON object.');
    expect(readFileSync(paths.vaultBackup)).toEqual(before.get('vault.json.bak'));
  });

  it('vault.json missing but vault.json.bak present: damaged, and nothing is created', async () => {
    await seeded();
    rmSync(paths.vault);
    rmSync(paths.masterKey);
    const before = snapshot();
    const vault = await openVault();
    expect(vault.status().state).toBe('damaged');
    expect(vault.status().error!.code).toBe('VAULT_DAMAGED');
    expect(vault.status().error!.message).toContain(`The vault at ${paths.vault} is missing`);
    await rejected(vault.put('x', 1));
    expect(existsSync(paths.vault)).toBe(false);
    expect(existsSync(paths.masterKey)).toBe(false);
    expect(snapshot()).toEqual(before);
  });

  it('master.key missing: an error naming both files, and the vault is left alone', async () => {
    await seeded();
    rmSync(paths.masterKey);
    const before = snapshot();
    const vault = await openVault();
    const status = vault.status();
    expect(status.state).toBe('damaged');
    expect(status.error!.message).toContain(paths.vault);
    expect(status.error!.message).toContain(paths.masterKey);
    await rejected(vault.put('x', 1));
    expect(existsSync(paths.masterKey)).toBe(false);
    expect(snapshot()).toEqual(before);
  });

  it('a master.key that does not open the data key: damaged, untouched', async () => {
    await seeded();
    writeFileSync(paths.masterKey, Buffer.alloc(32, 1));
    const before = snapshot();
    const vault = await openVault();
    expect(vault.status().state).toBe('damaged');
    expect(vault.status().error!.message).toMatch(
      new RegExp(`^The vault at ${paths.vault.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is damaged: `),
    );
    expect(snapshot()).toEqual(before);
  });
});

describe('stale temp files', () => {
  it('open() removes temp files a killed writer left, and nothing else', async () => {
    await openVault();
    const stale = ['.vault.json.1234.abcdef.tmp', '.vault.json.x.tmp', '.vault.json.bak.99.ffff.tmp'];
    for (const name of stale) writeFileSync(join(tmp.path, name), 'partial');
    writeFileSync(join(tmp.path, 'notes.tmp'), 'keep');
    await openVault();
    const names = readdirSync(tmp.path).sort();
    for (const name of stale) expect(names).not.toContain(name);
    expect(names).toEqual(['master.key', 'notes.tmp', 'vault.json']);
  });

  it('writes leave no temp files behind', async () => {
    const vault = await openVault();
    for (let i = 0; i < 5; i++) await vault.put(`r${i}`, i);
    expect(readdirSync(tmp.path).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });
});

describe('passphrase mode', () => {
  async function withPassphrase(): Promise<Vault> {
    const vault = await openVault();
    await vault.put('connection:openai:default', { api_key: CANARY });
    await vault.setPassphrase(PASSPHRASE);
    return vault;
  }

  it('a passphrase shorter than 8 characters is refused with INVALID_INPUT, changing nothing', async () => {
    const vault = await openVault();
    await vault.put('a', 1);
    const before = snapshot();
    const err = await rejected(vault.setPassphrase('short77'));
    expect(err.code).toBe('INVALID_INPUT');
    expect(snapshot()).toEqual(before);
    expect(vault.status().mode).toBe('keyfile');
    await vault.setPassphrase('eight888');
    expect(vault.status().mode).toBe('passphrase');
  });

  it('set: deletes master.key and writes vault.json and vault.json.bak in passphrase mode', async () => {
    const vault = await withPassphrase();
    expect(existsSync(paths.masterKey)).toBe(false);
    expect(vault.status()).toMatchObject({ mode: 'passphrase', state: 'unlocked' });
    expect(readJson(paths.vault).mode).toBe('passphrase');
    expect(readJson(paths.vaultBackup).mode).toBe('passphrase');
    expect(fileMode(paths.vault)).toBe(0o600);
    expect(fileMode(paths.vaultBackup)).toBe(0o600);
    expect(vault.get('connection:openai:default')).toEqual({ api_key: CANARY });
  });

  it('a new instance opens locked; get, list and put say the vault is locked', async () => {
    await withPassphrase();
    const vault = await openVault();
    expect(vault.status()).toMatchObject({ mode: 'passphrase', state: 'locked', records: 1 });
    const err = caught(() => vault.get('connection:openai:default'));
    expect(err.code).toBe('VAULT_LOCKED');
    expect(err.message).toBe('The vault is locked.');
    expect(err.hint).toBe("Run 'authsome unlock'.");
    expect(caught(() => vault.list('')).code).toBe('VAULT_LOCKED');
    expect((await rejected(vault.put('x', 1))).code).toBe('VAULT_LOCKED');
  });

  it('unlock with the wrong passphrase: WRONG_PASSPHRASE naming the vault, still locked', async () => {
    await withPassphrase();
    const vault = await openVault();
    const err = await rejected(vault.unlock('not the passphrase'));
    expect(err.code).toBe('WRONG_PASSPHRASE');
    expect(err.message).toBe(`Wrong passphrase for the vault at ${paths.vault}.`);
    expect(vault.status().state).toBe('locked');
  });

  it('unlock with the right passphrase brings the records back, and writes work again', async () => {
    await withPassphrase();
    const vault = await openVault();
    await vault.unlock(PASSPHRASE);
    expect(vault.status().state).toBe('unlocked');
    expect(vault.get('connection:openai:default')).toEqual({ api_key: CANARY });
    await vault.put('connection:openai:team', { api_key: 'sk-team' });
    const again = await openVault();
    await again.unlock(PASSPHRASE);
    expect(again.list('connection:')).toEqual(['connection:openai:default', 'connection:openai:team']);
  });

  it('lock drops the key: get throws VAULT_LOCKED until the next unlock', async () => {
    const vault = await withPassphrase();
    vault.lock();
    expect(vault.status().state).toBe('locked');
    const err = caught(() => vault.get('connection:openai:default'));
    expect(err.code).toBe('VAULT_LOCKED');
    expect(err.message).toBe('The vault is locked.');
    expect(err.hint).toBe("Run 'authsome unlock'.");
    await vault.unlock(PASSPHRASE);
    expect(vault.get('connection:openai:default')).toEqual({ api_key: CANARY });
  });

  it('lock and unlock of a keyfile vault are refused with VAULT_MODE', async () => {
    const vault = await openVault();
    expect(caught(() => vault.lock()).code).toBe('VAULT_MODE');
    expect((await rejected(vault.unlock(PASSPHRASE))).code).toBe('VAULT_MODE');
    expect((await rejected(vault.removePassphrase(PASSPHRASE))).code).toBe('VAULT_MODE');
    expect(vault.status().state).toBe('unlocked');
  });

  it('remove: the wrong passphrase is refused; the right one restores keyfile mode', async () => {
    await withPassphrase();
    const vault = await openVault();
    expect((await rejected(vault.removePassphrase('wrong wrong'))).code).toBe('WRONG_PASSPHRASE');
    expect(existsSync(paths.masterKey)).toBe(false);

    await vault.removePassphrase(PASSPHRASE);
    expect(vault.status()).toMatchObject({ mode: 'keyfile', state: 'unlocked' });
    expect(readFileSync(paths.masterKey)).toHaveLength(32);
    expect(fileMode(paths.masterKey)).toBe(0o600);
    expect(readJson(paths.vault).mode).toBe('keyfile');

    const fresh = await openVault();
    expect(fresh.status()).toMatchObject({ mode: 'keyfile', state: 'unlocked' });
    expect(fresh.get('connection:openai:default')).toEqual({ api_key: CANARY });
  });

  it('changing the passphrase re-wraps the data key only: every sealed record keeps its bytes', async () => {
    const vault = await withPassphrase();
    await vault.put('connection:openai:team', { api_key: 'sk-team' });
    const before = readJson(paths.vault);
    await vault.setPassphrase('a brand new passphrase');
    const after = readJson(paths.vault);
    expect(after.records).toEqual(before.records);
    expect(after.key).not.toEqual(before.key);
    expect(after.kdf.salt).not.toBe(before.kdf.salt);

    const old = await openVault();
    expect((await rejected(old.unlock(PASSPHRASE))).code).toBe('WRONG_PASSPHRASE');
    await old.unlock('a brand new passphrase');
    expect(old.get('connection:openai:team')).toEqual({ api_key: 'sk-team' });
  });

  it('the passphrase vault does not contain the secret in the clear either', async () => {
    await withPassphrase();
    for (const path of [paths.vault, paths.vaultBackup]) {
      const text = readFileSync(path, 'utf8');
      expect(text).not.toContain(CANARY);
      expect(text).not.toContain(Buffer.from(CANARY).toString('base64'));
      expect(text).not.toContain(PASSPHRASE);
    }
  });
});

describe('concurrent writes', () => {
  it('100 concurrent put() calls all reach the disk', async () => {
    const vault = await openVault();
    await Promise.all(Array.from({ length: 100 }, (_, i) => vault.put(`connection:p:c${i}`, { i })));
    const reopened = await openVault();
    const ids = reopened.list('connection:p:');
    expect(ids).toHaveLength(100);
    for (let i = 0; i < 100; i++) expect(reopened.get(`connection:p:c${i}`)).toEqual({ i });
  });

  it('puts racing a passphrase change are all kept, under the new passphrase', async () => {
    const vault = await openVault();
    await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => vault.put(`r${i}`, i)),
      vault.setPassphrase(PASSPHRASE),
      ...Array.from({ length: 20 }, (_, i) => vault.put(`s${i}`, i)),
    ]);
    const reopened = await openVault();
    expect(reopened.status().state).toBe('locked');
    await reopened.unlock(PASSPHRASE);
    expect(reopened.list('')).toHaveLength(40);
  });
});

describe('KDF parameters come from the file', () => {
  it('a vault written with memory_kib 2048 opens under a process configured differently', async () => {
    const first = await openVault({ memory_kib: 2048, iterations: 1 });
    await first.put('a', 'A');
    expect(readJson(paths.vault).kdf).toMatchObject({ memory_kib: 2048, iterations: 1 });

    const second = await openVault({ memory_kib: 4096, iterations: 2 });
    expect(second.status().state).toBe('unlocked');
    expect(second.get('a')).toBe('A');
    await second.put('b', 'B');
    expect(readJson(paths.vault).kdf).toMatchObject({ memory_kib: 2048, iterations: 1 });
  });

  it('a passphrase vault written with one cost unlocks under another', async () => {
    const first = await openVault({ memory_kib: 2048, iterations: 1 });
    await first.put('a', 'A');
    await first.setPassphrase(PASSPHRASE);
    const second = await openVault({ memory_kib: 1024, iterations: 2 });
    await second.unlock(PASSPHRASE);
    expect(second.get('a')).toBe('A');
  });
});

describe('integrity seal: a file put together from parts of other copies is damaged', () => {
  const SEAL_MISMATCH = 'its records do not match its integrity seal';

  async function seeded(): Promise<Vault> {
    const vault = await openVault();
    await vault.put('connection:openai:default', { api_key: CANARY });
    await vault.put('connection:openai:team', { api_key: 'sk-team' });
    return vault;
  }

  /** Writes the attacker's file, opens it in a fresh instance, and checks that nothing is written after. */
  async function expectDamaged(file: Record<string, any>, detail: string): Promise<Vault> {
    writeFileSync(paths.vault, JSON.stringify(file, null, 2));
    const before = snapshot();
    const vault = await openVault();
    const status = vault.status();
    expect(status.state).toBe('damaged');
    expect(status.error!.code).toBe('VAULT_DAMAGED');
    expect(status.error!.message).toBe(`The vault at ${paths.vault} is damaged: ${detail}.`);
    expect(status.error!.hint).toContain(`cp ${paths.vault}.bak ${paths.vault}`);
    await rejected(vault.put('x', 1));
    expect(snapshot()).toEqual(before);
    return vault;
  }

  it('every write stores a seal with a higher generation', async () => {
    const vault = await openVault();
    const first = readJson(paths.vault).integrity;
    expect(first).toMatchObject({ generation: 1 });
    expect(Buffer.from(first.mac, 'base64')).toHaveLength(32);
    await vault.put('a', 1);
    await vault.remove('a');
    const third = readJson(paths.vault).integrity;
    expect(third.generation).toBe(3);
    // Same records as the first write, yet another seal: an old copy's seal never fits a new file.
    expect(readJson(paths.vault).records).toEqual({});
    expect(third.mac).not.toBe(first.mac);
  });

  it('a record deleted from vault.json', async () => {
    await seeded();
    const file = readJson(paths.vault);
    delete file.records['connection:openai:team'];
    await expectDamaged(file, SEAL_MISMATCH);
  });

  it('a record added to vault.json from another copy of the vault', async () => {
    const vault = await seeded();
    await vault.put('connection:openai:old', { api_key: 'sk-old' });
    const withOld = readJson(paths.vault);
    await vault.remove('connection:openai:old');
    const file = readJson(paths.vault);
    file.records['connection:openai:old'] = withOld.records['connection:openai:old'];
    await expectDamaged(file, SEAL_MISMATCH);
  });

  it('a rotated key rolled back: one record replaced by its older sealed value from an earlier copy', async () => {
    const vault = await seeded();
    const earlier = readJson(paths.vault);
    await vault.put('connection:openai:default', { api_key: 'sk-rotated' });
    const file = readJson(paths.vault);
    file.records['connection:openai:default'] = earlier.records['connection:openai:default'];
    await expectDamaged(file, SEAL_MISMATCH);
  });

  it('the older record together with the older seal, the other records current', async () => {
    const vault = await seeded();
    const earlier = readJson(paths.vault);
    await vault.put('connection:openai:default', { api_key: 'sk-rotated' });
    await vault.put('connection:openai:team', { api_key: 'sk-team-2' });
    const file = readJson(paths.vault);
    file.records['connection:openai:default'] = earlier.records['connection:openai:default'];
    file.integrity = earlier.integrity;
    await expectDamaged(file, SEAL_MISMATCH);
  });

  it('two records swapping their sealed values (the record id in the additional data catches it first)', async () => {
    await seeded();
    const file = readJson(paths.vault);
    const { 'connection:openai:default': a, 'connection:openai:team': b } = file.records;
    file.records['connection:openai:default'] = b;
    file.records['connection:openai:team'] = a;
    await expectDamaged(file, "record 'connection:openai:default' failed authentication");
  });

  it('the integrity field stripped', async () => {
    await seeded();
    const file = readJson(paths.vault);
    delete file.integrity;
    await expectDamaged(file, 'its integrity seal is missing');
  });

  it('the generation changed, or the seal malformed', async () => {
    await seeded();
    const file = readJson(paths.vault);
    await expectDamaged(
      { ...file, integrity: { ...file.integrity, generation: file.integrity.generation + 1 } },
      SEAL_MISMATCH,
    );
    await expectDamaged({ ...file, integrity: { generation: 1, mac: 'short' } }, 'its integrity seal is malformed');
  });

  it('the whole file restored from vault.json.bak still opens: it is a consistent earlier state', async () => {
    const vault = await seeded();
    await vault.put('connection:openai:default', { api_key: 'sk-rotated' });
    writeFileSync(paths.vault, readFileSync(paths.vaultBackup));
    const restored = await openVault();
    expect(restored.status().state).toBe('unlocked');
    expect(restored.get('connection:openai:default')).toEqual({ api_key: CANARY });
    await restored.put('connection:openai:default', { api_key: 'sk-rotated-again' });
    expect((await openVault()).get('connection:openai:default')).toEqual({ api_key: 'sk-rotated-again' });
  });

  it('a passphrase vault is checked at unlock: a deleted record is damage, not a wrong passphrase', async () => {
    const vault = await seeded();
    await vault.setPassphrase(PASSPHRASE);
    const file = readJson(paths.vault);
    delete file.records['connection:openai:team'];
    writeFileSync(paths.vault, JSON.stringify(file));
    const locked = await openVault();
    expect(locked.status().state).toBe('locked');
    const err = await rejected(locked.unlock(PASSPHRASE));
    expect(err.message).toBe(`The vault at ${paths.vault} is damaged: ${SEAL_MISMATCH}.`);
    expect(locked.status().state).toBe('damaged');
  });

  it('passphrase set and remove keep the seal valid (the data key is re-wrapped, the seal follows)', async () => {
    const vault = await seeded();
    await vault.setPassphrase(PASSPHRASE);
    expect(readJson(paths.vault).integrity).toBeDefined();
    const locked = await openVault();
    await locked.unlock(PASSPHRASE);
    expect(locked.get('connection:openai:team')).toEqual({ api_key: 'sk-team' });

    await locked.removePassphrase(PASSPHRASE);
    const reopened = await openVault();
    expect(reopened.status()).toMatchObject({ state: 'unlocked', mode: 'keyfile' });
    expect(reopened.get('connection:openai:default')).toEqual({ api_key: CANARY });
    // And it still guards: stripping the seal of the re-wrapped vault is damage.
    const file = readJson(paths.vault);
    delete file.integrity;
    await expectDamaged(file, 'its integrity seal is missing');
  });

  it('a write queued just before lock() is still sealed and lands', async () => {
    const vault = await seeded();
    await vault.setPassphrase(PASSPHRASE);
    const pending = vault.put('connection:openai:late', { api_key: 'sk-late' });
    vault.lock();
    await pending;
    const reopened = await openVault();
    await reopened.unlock(PASSPHRASE);
    expect(reopened.get('connection:openai:late')).toEqual({ api_key: 'sk-late' });
  });
});

describe('integrity seal: vaults written before it existed', () => {
  it('a keyfile vault without a seal opens once, and gains one on the next write', async () => {
    await writeLegacyVault({
      vaultPath: paths.vault,
      masterKeyPath: paths.masterKey,
      records: { 'connection:openai:default': { api_key: CANARY } },
    });
    const legacyText = readFileSync(paths.vault, 'utf8');
    const vault = await openVault();
    expect(vault.status()).toMatchObject({ state: 'unlocked', records: 1 });
    expect(vault.get('connection:openai:default')).toEqual({ api_key: CANARY });
    // Opening alone writes nothing.
    expect(readFileSync(paths.vault, 'utf8')).toBe(legacyText);

    await vault.put('connection:openai:team', { api_key: 'sk-team' });
    const sealed = readJson(paths.vault);
    expect(sealed.integrity).toMatchObject({ generation: 1 });
    expect(readFileSync(paths.vaultBackup, 'utf8')).toBe(legacyText);
    expect((await openVault()).list('connection:')).toEqual(['connection:openai:default', 'connection:openai:team']);

    // Once sealed, removing the seal does not make it a pre-seal vault again.
    delete sealed.integrity;
    writeFileSync(paths.vault, JSON.stringify(sealed));
    const stripped = await openVault();
    expect(stripped.status().error!.message).toBe(
      `The vault at ${paths.vault} is damaged: its integrity seal is missing.`,
    );

    // The pre-seal backup restored whole is a consistent earlier state, and still opens.
    writeFileSync(paths.vault, readFileSync(paths.vaultBackup));
    expect((await openVault()).get('connection:openai:default')).toEqual({ api_key: CANARY });
  });

  it(
    'a passphrase vault without a seal unlocks (also after lock and unlock again) and is sealed by its next ' + 'write',
    async () => {
      await writeLegacyVault({ vaultPath: paths.vault, passphrase: PASSPHRASE, records: { a: 1, b: 2 } });
      const vault = await openVault();
      await vault.unlock(PASSPHRASE);
      vault.lock();
      await vault.unlock(PASSPHRASE);
      expect(vault.list('')).toEqual(['a', 'b']);
      await vault.remove('b');
      expect(readJson(paths.vault).integrity).toMatchObject({ generation: 1 });

      const reopened = await openVault();
      await reopened.unlock(PASSPHRASE);
      expect(reopened.list('')).toEqual(['a']);
      const file = readJson(paths.vault);
      delete file.integrity;
      writeFileSync(paths.vault, JSON.stringify(file));
      const stripped = await openVault();
      expect((await rejected(stripped.unlock(PASSPHRASE))).message).toContain(
        'is damaged: its integrity seal is missing',
      );
    },
  );

  it('passphrase set on a vault without a seal writes a sealed vault', async () => {
    await writeLegacyVault({ vaultPath: paths.vault, masterKeyPath: paths.masterKey, records: { a: 1 } });
    const vault = await openVault();
    await vault.setPassphrase(PASSPHRASE);
    const reopened = await openVault();
    await reopened.unlock(PASSPHRASE);
    expect(reopened.get('a')).toBe(1);
    const file = readJson(paths.vault);
    delete file.integrity;
    writeFileSync(paths.vault, JSON.stringify(file));
    expect((await rejected((await openVault()).unlock(PASSPHRASE))).message).toContain('its integrity seal is missing');
  });
});

describe('a damaged vault is read again once a person restores the file', () => {
  it(
    'vault.json deleted, .bak present: following the ' + 'hint (cp .bak) opens the vault with no new instance',
    async () => {
      const writer = await openVault();
      await writer.put('connection:openai:default', { api_key: CANARY });
      await writer.put('connection:openai:team', { api_key: 'sk-team' });
      rmSync(paths.vault);

      const vault = await openVault();
      expect(vault.status().state).toBe('damaged');
      const hint = vault.status().error!.hint!;
      expect(hint).toContain(`'cp ${paths.vaultBackup} ${paths.vault}'`);
      // Nothing changed on disk: still damaged, and still nothing written.
      const before = snapshot();
      await vault.reopenIfChanged();
      expect(vault.status().state).toBe('damaged');
      expect(snapshot()).toEqual(before);

      writeFileSync(paths.vault, readFileSync(paths.vaultBackup), { mode: 0o600 });
      await vault.reopenIfChanged();
      expect(vault.status()).toMatchObject({ state: 'unlocked', records: 1 });
      expect(vault.status().error).toBeUndefined();
      expect(vault.get('connection:openai:default')).toEqual({ api_key: CANARY });
      await vault.put('connection:openai:other', { api_key: 'sk-other' });
      expect((await openVault()).list('connection:')).toEqual(['connection:openai:default', 'connection:openai:other']);
    },
  );

  it('a restored master.key is read again too; concurrent callers share one re-read', async () => {
    const writer = await openVault();
    await writer.put('connection:openai:default', { api_key: CANARY });
    const master = readFileSync(paths.masterKey);
    rmSync(paths.masterKey);
    const vault = await openVault();
    expect(vault.status().state).toBe('damaged');
    writeFileSync(paths.masterKey, master, { mode: 0o600 });
    await Promise.all([vault.reopenIfChanged(), vault.reopenIfChanged(), vault.reopenIfChanged()]);
    expect(vault.get('connection:openai:default')).toEqual({ api_key: CANARY });
  });

  it('a file still damaged after the change stays damaged, with the new reason, and is not written', async () => {
    await (await openVault()).put('a', 1);
    writeFileSync(paths.vault, 'not json');
    const vault = await openVault();
    writeFileSync(paths.vault, '[]');
    const before = snapshot();
    await vault.reopenIfChanged();
    expect(vault.status().error!.message).toContain('it does not contain a JSON object');
    await rejected(vault.put('b', 2));
    expect(snapshot()).toEqual(before);
  });
});

describe('vault.json replaced or deleted by another program while the vault is open', () => {
  it('replaced: the next write is refused, nothing is written, and the status says why', async () => {
    const vault = await openVault();
    await vault.put('connection:openai:default', { api_key: CANARY });
    await vault.put('connection:openai:team', { api_key: 'sk-team' });
    // Another program puts an older copy in place (here: the backup) while the vault is open.
    writeFileSync(paths.vault, readFileSync(paths.vaultBackup));
    const before = snapshot();

    const err = await rejected(vault.put('connection:openai:new', { api_key: 'sk-new' }));
    expect(err.code).toBe('VAULT_DAMAGED');
    expect(err.message).toBe(
      `The vault at ${paths.vault} was changed by another program since authsome read it; authsome wrote ` +
        'nothing over it.',
    );
    expect(err.hint).toContain("'authsome daemon restart'");
    expect(err.hint).toContain(`'cp ${paths.vaultBackup} ${paths.vault}'`);
    expect(vault.status()).toMatchObject({ state: 'damaged', error: err });
    expect(caught(() => vault.get('connection:openai:default')).code).toBe('VAULT_DAMAGED');
    await rejected(vault.remove('connection:openai:team'));
    await rejected(vault.setPassphrase(PASSPHRASE));
    expect(snapshot()).toEqual(before);
  });

  it('the coalescing writer: every queued write is refused once the file changed, none lands', async () => {
    const vault = await openVault();
    await vault.put('a', 1);
    writeFileSync(paths.vault, `${readFileSync(paths.vault, 'utf8')} `);
    const before = snapshot();
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => vault.put(`r${i}`, i)));
    expect(results.every((r) => r.status === 'rejected' && (r.reason as AppError).code === 'VAULT_DAMAGED')).toBe(true);
    expect(snapshot()).toEqual(before);
  });

  it('deleted: the write is refused and no new vault.json (or .bak) is created', async () => {
    const vault = await openVault();
    await vault.put('a', 1);
    rmSync(paths.vault);
    const before = snapshot();
    const err = await rejected(vault.put('b', 2));
    expect(err.message).toBe(
      `The vault at ${paths.vault} was deleted by another program while authsome was running; authsome did ` +
        'not create a new one.',
    );
    expect(err.hint).toContain(`'cp ${paths.vaultBackup} ${paths.vault}'`);
    expect(snapshot()).toEqual(before);
    // Following the hint brings back the backup (the write before the last one).
    writeFileSync(paths.vault, readFileSync(paths.vaultBackup));
    await vault.reopenIfChanged();
    expect(vault.status().state).toBe('unlocked');
  });

  it('passphrase remove does not write master.key when vault.json was replaced meanwhile', async () => {
    const vault = await openVault();
    await vault.put('a', 1);
    await vault.setPassphrase(PASSPHRASE);
    const replaced = readFileSync(paths.vault, 'utf8').replace('"records"', '"records" ');
    writeFileSync(paths.vault, replaced);
    const before = snapshot();
    expect((await rejected(vault.removePassphrase(PASSPHRASE))).message).toContain('was changed by another program');
    expect(existsSync(paths.masterKey)).toBe(false);
    expect(snapshot()).toEqual(before);
  });

  it("the vault's own writes, backups and passphrase changes never look like another program's", async () => {
    const vault = await openVault();
    await Promise.all(Array.from({ length: 30 }, (_, i) => vault.put(`r${i}`, i)));
    await vault.setPassphrase(PASSPHRASE);
    await vault.put('after-set', 1);
    await vault.removePassphrase(PASSPHRASE);
    await vault.put('after-remove', 2);
    expect(vault.status()).toMatchObject({ state: 'unlocked', records: 32 });
  });
});

describe('a write the disk refuses', () => {
  it('fails every change it carried, leaves memory as the disk says, and never lands them later', async () => {
    const vault = await openVault();
    await vault.put('connection:a:default', { v: 1 });
    // The backup path becomes a non-empty directory: renaming the new backup over it fails, whoever we are.
    rmSync(paths.vaultBackup, { force: true });
    mkdirSync(join(paths.vaultBackup, 'blocker'), { recursive: true });
    const [b, c] = await Promise.all([
      rejected(vault.put('connection:b:default', { v: 2 })),
      rejected(vault.put('connection:a:default', { v: 3 })),
    ]);
    for (const err of [b, c]) {
      expect(err.code).toBe('VAULT_WRITE_FAILED');
      expect(err.message).toMatch(/^Could not write the vault at .*vault\.json \(E[A-Z]+\); nothing was changed\.$/);
    }
    expect(vault.get('connection:b:default')).toBeUndefined();
    expect(vault.get('connection:a:default')).toEqual({ v: 1 });
    expect(vault.status().state).toBe('unlocked');

    rmSync(paths.vaultBackup, { recursive: true, force: true });
    await vault.put('connection:d:default', { v: 4 });
    const reopened = await openVault();
    expect(reopened.list('connection:')).toEqual(['connection:a:default', 'connection:d:default']);
    expect(reopened.get('connection:a:default')).toEqual({ v: 1 });
  });
});

describe('checkPassphrase on a vault written before the integrity seal', () => {
  it('accepts the right passphrase and refuses a wrong one, changing nothing', async () => {
    await writeLegacyVault({ vaultPath: paths.vault, passphrase: PASSPHRASE, records: { a: 1 } });
    const before = readFileSync(paths.vault, 'utf8');
    const vault = createVault({ paths, kdf: CHEAP });
    await vault.open();
    await vault.checkPassphrase(PASSPHRASE);
    expect((await rejected(vault.checkPassphrase('not the passphrase'))).code).toBe('WRONG_PASSPHRASE');
    expect(vault.status().state).toBe('locked');
    expect(readFileSync(paths.vault, 'utf8')).toBe(before);
  });
});

describe('view', () => {
  it('hands out the stored record itself, frozen to the last level; get() still gives a copy to change', async () => {
    const vault = await openVault();
    await vault.put('connection:openai:default', { api_key: 'sk-one', scopes: ['a'] });
    const seen = vault.view<{ api_key: string; scopes: string[] }>('connection:openai:default')!;
    expect(seen).toEqual({ api_key: 'sk-one', scopes: ['a'] });
    expect(() => {
      (seen as { api_key: string }).api_key = 'sk-changed';
    }).toThrow(TypeError);
    expect(() => (seen.scopes as string[]).push('b')).toThrow(TypeError);
    const copy = vault.get<{ api_key: string }>('connection:openai:default')!;
    copy.api_key = 'sk-mine';
    expect(vault.view<{ api_key: string }>('connection:openai:default')!.api_key).toBe('sk-one');
    await vault.put('connection:openai:default', { api_key: 'sk-two' });
    expect(vault.view<{ api_key: string }>('connection:openai:default')).toEqual({ api_key: 'sk-two' });
    expect(vault.view('connection:none:default')).toBeUndefined();
    // Read back from disk: the records a reopened vault holds are frozen as well.
    const again = await openVault();
    expect(Object.isFrozen(again.view('connection:openai:default'))).toBe(true);
  });

  it('refuses like get() while the vault is locked', async () => {
    const vault = await openVault();
    await vault.put('x', { a: 1 });
    await vault.setPassphrase('correct horse battery staple');
    vault.lock();
    expect(() => vault.view('x')).toThrow(expect.objectContaining({ code: 'VAULT_LOCKED' }));
  });
});

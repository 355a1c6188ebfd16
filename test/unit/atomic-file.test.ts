// Crash-safe writes and private directories, on real files: exact modes whatever the umask, no temp files left.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir, ensurePrivateDirSync, removeStaleTemps, writeFileAtomic } from '../../src/atomic-file.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let tmp: TempDir;
beforeEach(async () => {
  tmp = await makeTempDir('atomic');
});
afterEach(() => tmp.cleanup());

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('writeFileAtomic', () => {
  it('writes the content with mode 0600 by default', async () => {
    const path = join(tmp.path, 'state.json');
    await writeFileAtomic(path, '{"a":1}\n');
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n');
    expect(modeOf(path)).toBe(0o600);
  });

  it('writes bytes and honours an explicit mode exactly, even one the umask would narrow', async () => {
    const bytes = Buffer.from([0, 1, 2, 255]);
    const path = join(tmp.path, 'blob');
    await writeFileAtomic(path, bytes, 0o644);
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(modeOf(path)).toBe(0o644);
    const other = join(tmp.path, 'group');
    await writeFileAtomic(other, 'x', 0o660);
    expect(modeOf(other)).toBe(0o660);
  });

  it('replaces an existing file, and tightens its mode', async () => {
    const path = join(tmp.path, 'token');
    writeFileSync(path, 'old contents that are longer', { mode: 0o644 });
    chmodSync(path, 0o644);
    await writeFileAtomic(path, 'new');
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(modeOf(path)).toBe(0o600);
  });

  it('leaves no temp file behind, also after many writes to the same file at once', async () => {
    const path = join(tmp.path, 'busy.json');
    await Promise.all(Array.from({ length: 25 }, (_, i) => writeFileAtomic(path, `value ${i}`)));
    expect(readdirSync(tmp.path)).toEqual(['busy.json']);
    expect(readFileSync(path, 'utf8')).toMatch(/^value \d+$/);
  });

  it('fails without leaving anything when the directory does not exist', async () => {
    await expect(writeFileAtomic(join(tmp.path, 'missing', 'f'), 'x')).rejects.toThrow();
    expect(readdirSync(tmp.path)).toEqual([]);
  });
});

describe('ensurePrivateDir', () => {
  it('creates the directory and its parents with mode 0700', async () => {
    const dir = join(tmp.path, 'home', 'providers');
    await ensurePrivateDir(dir);
    expect(statSync(dir).isDirectory()).toBe(true);
    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(join(tmp.path, 'home'))).toBe(0o700);
  });

  it('tightens an existing directory that is too open, and is idempotent', async () => {
    const dir = join(tmp.path, 'wide');
    mkdirSync(dir);
    chmodSync(dir, 0o755);
    await ensurePrivateDir(dir);
    expect(modeOf(dir)).toBe(0o700);
    await ensurePrivateDir(dir);
    expect(modeOf(dir)).toBe(0o700);
  });

  it('has a synchronous twin with the same effect', () => {
    const dir = join(tmp.path, 'sync', 'nested');
    ensurePrivateDirSync(dir);
    expect(modeOf(dir)).toBe(0o700);
    chmodSync(dir, 0o777);
    ensurePrivateDirSync(dir);
    expect(modeOf(dir)).toBe(0o700);
  });
});

describe('removeStaleTemps', () => {
  it('removes only the temp files of the given file', async () => {
    const path = join(tmp.path, 'vault.json');
    writeFileSync(path, 'v');
    for (const name of [
      '.vault.json.1.aa.tmp',
      '.vault.json.2.bb.tmp',
      '.other.json.1.aa.tmp',
      '.vault.json.keep',
      'vault.json.tmp',
    ]) {
      writeFileSync(join(tmp.path, name), '');
    }
    await removeStaleTemps(path);
    expect(readdirSync(tmp.path).sort()).toEqual([
      '.other.json.1.aa.tmp',
      '.vault.json.keep',
      'vault.json',
      'vault.json.tmp',
    ]);
  });

  it('does nothing when the directory is missing', async () => {
    await expect(removeStaleTemps(join(tmp.path, 'nope', 'vault.json'))).resolves.toBeUndefined();
    expect(existsSync(join(tmp.path, 'nope'))).toBe(false);
  });
});

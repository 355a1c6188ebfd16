// Real temporary directories for tests: one per test (or suite), removed by the returned cleanup.
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  /** Absolute, symlink-free path of the new directory under os.tmpdir(). */
  path: string;
  cleanup: () => Promise<void>;
}

export async function makeTempDir(prefix: string): Promise<TempDir> {
  const path = await realpath(await mkdtemp(join(tmpdir(), `authsome-${prefix}-`)));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

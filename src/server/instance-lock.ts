// One server per AUTHSOME_HOME: an O_EXCL lock file holding the owner's pid. A lock whose pid is
// gone (the server was killed) is taken over; a live one means "already running".
import { open, readFile, rm } from 'node:fs/promises';
import { errors } from '../errors.js';
import { isPidAlive, loadServerState } from '../server-state.js';

export interface InstanceLock {
  release(): Promise<void>;
}

/** Locks held by runtimes of this process (a lock file with our own pid is stale unless listed here). */
const heldHere = new Set<string>();

export async function acquireInstanceLock(
  lockPath: string,
  statePath: string,
  expectedUrl: string,
): Promise<InstanceLock> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const handle = await open(lockPath, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      heldHere.add(lockPath);
      return {
        async release() {
          heldHere.delete(lockPath);
          const owner = await readLockPid(lockPath);
          if (owner === process.pid) await rm(lockPath, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = await readLockPid(lockPath);
    const ours = owner === process.pid;
    if (owner !== undefined && ((ours && heldHere.has(lockPath)) || (!ours && isPidAlive(owner)))) {
      const state = loadServerState(statePath);
      throw errors.alreadyRunning(owner, state?.pid === owner ? state.url : expectedUrl);
    }
    // Stale (its process is gone) or half-written by a starting server: re-check, then take it over.
    if (owner === undefined) await new Promise((r) => setTimeout(r, 50));
    const again = await readLockPid(lockPath);
    if (again === owner) await rm(lockPath, { force: true });
  }
  throw errors.internal(`Could not take the server lock ${lockPath}.`);
}

async function readLockPid(lockPath: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(lockPath, 'utf8')).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

// The vault service: unlock/lock, records in memory while unlocked, every change persisted through
// one coalescing writer. It never writes a vault it could not read, and never holds a secret on disk unsealed.
import { randomBytes } from 'node:crypto';
import { readFile, rm, access, stat } from 'node:fs/promises';
import { AppError, errors, isAppError, vaultErrors } from '../errors.js';
import { removeStaleTemps, writeFileAtomic } from '../atomic-file.js';
import { buildIntegritySeal, deriveIntegrityKey, verifyIntegritySeal } from './integrity.js';
import { buildKdfParams, deriveKey, type KdfParams } from './kdf.js';
import { open as openSealed, seal, type Sealed } from './seal.js';
import {
  loadVaultFile,
  serializeVaultFile,
  writeVaultFile,
  VAULT_FORMAT_VERSION,
  type VaultFileData,
  type VaultMode,
} from './vault-file.js';

// The data key's wrapping says, through its additional data, whether the vault carries an integrity seal. A
// vault wrapped under DATA_KEY_AAD must have one, so deleting the `integrity` field cannot pass it off as a vault
// from before the seal existed (LEGACY_DATA_KEY_AAD). Only the master secret can re-wrap the key, which the
// agent that can write vault.json does not have.
const DATA_KEY_AAD = 'authsome:data-key:sealed-vault';
const LEGACY_DATA_KEY_AAD = 'authsome:data-key';
const MIN_PASSPHRASE_LENGTH = 8;

export type VaultState = 'locked' | 'unlocked' | 'damaged';

export interface VaultStatus {
  path: string;
  mode: VaultMode;
  state: VaultState;
  records: number;
  error?: AppError;
}

export interface VaultPaths {
  vault: string;
  vaultBackup: string;
  masterKey: string;
}

export interface VaultOptions {
  paths: VaultPaths;
  /**
   * KDF cost for vaults and passphrases created by this process (tests lower it); defaults: 64 MiB, 3 passes, 1 lane.
   */
  kdf?: Partial<Omit<KdfParams, 'alg' | 'salt'>>;
}

export type VaultChange = { id: string; value: unknown } | { id: string; delete: true };

export interface VaultOpened {
  /** No vault.json (and no .bak) was there: a new, empty keyfile vault was written. */
  created: boolean;
}

export interface Vault {
  readonly path: string;
  /** Loads vault.json (creating a keyfile vault on first use) and unlocks it when it uses a key file. */
  open(): Promise<VaultOpened>;
  /**
   * A damaged vault reads vault.json again when it or master.key changed since the damage was found (a person
   * restored the file, e.g. from vault.json.bak); otherwise, and when not damaged, it does nothing.
   */
  reopenIfChanged(): Promise<void>;
  status(): VaultStatus;
  unlock(passphrase: string): Promise<void>;
  lock(): void;
  get<T = unknown>(id: string): T | undefined;
  /**
   * The stored value itself, frozen, without the copy get() makes: for the proxy's per-request read, where a
   * structured clone was a measurable share of the request's cost. Throws like get() when the vault is not unlocked.
   */
  view<T = unknown>(id: string): Readonly<T> | undefined;
  list(prefix: string): string[];
  /** Applies the changes in memory at once, then resolves when they are on disk. */
  apply(changes: VaultChange[]): Promise<void>;
  put(id: string, value: unknown): Promise<void>;
  remove(id: string): Promise<boolean>;
  setPassphrase(passphrase: string): Promise<void>;
  removePassphrase(passphrase: string): Promise<void>;
  /**
   * Throws WRONG_PASSPHRASE unless `passphrase` opens this passphrase vault (a fresh confirmation; changes nothing).
   */
  checkPassphrase(passphrase: string): Promise<void>;
  /** Milliseconds since the epoch of the last read or write (for `serve --lock-after`). */
  lastAccessAt(): number;
}

export function createVault(options: VaultOptions): Vault {
  const { paths } = options;
  let file: VaultFileData | undefined;
  let diskText: string | undefined;
  let state: VaultState = 'locked';
  let damage: AppError | undefined;
  // What vault.json and master.key looked like when the damage was found, and when vault.json was last read.
  let damagedFiles: string | undefined;
  let openedFiles: string | undefined;
  let reopening: Promise<void> | undefined;
  let dataKey: Buffer | undefined;
  // Lives as long as the data key, except that a lock waits for the writes queued before it to be sealed.
  let integrityKey: Buffer | undefined;
  // A vault from before the seal, opened: its key re-wrapped under DATA_KEY_AAD, written by the next write.
  let upgradedKey: Sealed | undefined;
  const plain = new Map<string, unknown>();
  let lastAccess = Date.now();

  // Coalescing writer: every change bumps `generation`; one loop writes the newest state until caught up.
  let generation = 0;
  let written = 0;
  let loop: Promise<void> | undefined;
  const waiters: { gen: number; resolve: () => void; reject: (e: unknown) => void }[] = [];

  function requireUnlocked(): void {
    if (state === 'damaged') throw damage!;
    if (state === 'locked' || !dataKey) throw errors.vaultLocked();
    lastAccess = Date.now();
  }

  function markDamaged(err: AppError, files: string | undefined): void {
    state = 'damaged';
    damage = err;
    damagedFiles = files;
    wipeKey();
  }

  /** Identity and change time of vault.json and master.key: any copy, rename or edit of either changes it. */
  async function readFileIdentity(): Promise<string> {
    const one = async (path: string) => {
      try {
        const s = await stat(path, { bigint: true });
        return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
      } catch {
        return 'none';
      }
    };
    return `${await one(paths.vault)}|${await one(paths.masterKey)}`;
  }

  /**
   * Before any write: vault.json must still be the file this process last read or wrote. Another program that
   * replaced or deleted it meanwhile made a change authsome cannot see, so writing over it could lose that change.
   */
  async function assertDiskUnchanged(): Promise<void> {
    const files = await readFileIdentity();
    let current: string | undefined;
    try {
      current = await readFile(paths.vault, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (current === diskText) return;
    const err =
      current === undefined
        ? vaultErrors.vaultDeletedUnderneath(paths.vault, await exists(paths.vaultBackup))
        : vaultErrors.vaultChangedUnderneath(paths.vault);
    markDamaged(err, files);
    throw err;
  }

  function wipeKey(): void {
    dataKey?.fill(0);
    dataKey = undefined;
    plain.clear();
    if (!loop) wipeIntegrityKey();
  }

  function wipeIntegrityKey(): void {
    integrityKey?.fill(0);
    integrityKey = undefined;
  }

  /** Opens the wrapped data key; `legacy` when it was wrapped by a version that wrote no integrity seal. */
  function unwrapDataKey(kek: Buffer, wrapped: Sealed): { key: Buffer; legacy: boolean } {
    try {
      return { key: openSealed(kek, wrapped, DATA_KEY_AAD), legacy: false };
    } catch {
      return { key: openSealed(kek, wrapped, LEGACY_DATA_KEY_AAD), legacy: true };
    }
  }

  /** The passphrase's key and the data key it unwraps; WRONG_PASSPHRASE when it unwraps nothing. */
  async function unwrapWithPassphrase(
    passphrase: string,
    data: VaultFileData,
  ): Promise<{ kek: Buffer; unwrapped: { key: Buffer; legacy: boolean } }> {
    const kek = await deriveKey(passphrase, data.kdf);
    try {
      return { kek, unwrapped: unwrapDataKey(kek, data.key) };
    } catch {
      throw errors.wrongPassphrase(paths.vault);
    }
  }

  /** Every record opens and the set of records is the one last written: else the vault is damaged. */
  function openRecords(
    kek: Buffer,
    unwrapped: { key: Buffer; legacy: boolean },
    data: VaultFileData,
  ): Map<string, unknown> | AppError {
    const records = decryptAll(unwrapped.key, data);
    if (records instanceof AppError) return records;
    if (data.integrity) {
      const macKey = deriveIntegrityKey(unwrapped.key);
      const intact = verifyIntegritySeal(macKey, data, data.integrity);
      macKey.fill(0);
      if (!intact) return errors.vaultDamaged(paths.vault, 'its records do not match its integrity seal');
    } else if (!unwrapped.legacy) {
      return errors.vaultDamaged(paths.vault, 'its integrity seal is missing');
    }
    // A vault written before the seal existed is accepted this once (migration): the next write re-wraps its key
    // under DATA_KEY_AAD and adds the seal, and from then on removing the seal is damage.
    if (unwrapped.legacy) upgradedKey = seal(kek, unwrapped.key, DATA_KEY_AAD);
    return records;
  }

  /** The file as the next write puts it on disk: the next generation, sealed over exactly these contents. */
  function sealForWrite(contents: VaultFileData, macKey: Buffer | undefined): VaultFileData {
    if (!macKey) throw errors.vaultLocked();
    const { integrity: previous, ...rest } = contents;
    return { ...rest, integrity: buildIntegritySeal(macKey, rest, (previous?.generation ?? 0) + 1) };
  }

  function decryptAll(key: Buffer, data: VaultFileData): Map<string, unknown> | AppError {
    const out = new Map<string, unknown>();
    for (const [id, sealed] of Object.entries(data.records)) {
      try {
        out.set(id, JSON.parse(openSealed(key, sealed, id).toString('utf8')));
      } catch {
        return errors.vaultDamaged(paths.vault, `record '${id}' failed authentication`);
      }
    }
    return out;
  }

  function adopt(key: Buffer, records: Map<string, unknown>): void {
    dataKey = key;
    integrityKey?.fill(0);
    integrityKey = deriveIntegrityKey(key);
    plain.clear();
    for (const [id, value] of records) plain.set(id, deepFreeze(value));
    state = 'unlocked';
    damage = undefined;
    lastAccess = Date.now();
  }

  async function readMasterKey(): Promise<Buffer | undefined> {
    try {
      const bytes = await readFile(paths.masterKey);
      return bytes.length === 32 ? bytes : undefined;
    } catch {
      return undefined;
    }
  }

  async function exists(path: string): Promise<boolean> {
    try {
      await access(path);
      return true;
    } catch {
      return false;
    }
  }

  async function wrapUnder(secret: Buffer | string, key: Buffer): Promise<{ kdf: KdfParams; wrapped: Sealed }> {
    const kdf = buildKdfParams(options.kdf);
    const kek = await deriveKey(secret, kdf);
    return { kdf, wrapped: seal(kek, key, DATA_KEY_AAD) };
  }

  // Every disk write runs through this queue, so a passphrase change never interleaves with a record write.
  let diskQueue: Promise<unknown> = Promise.resolve();
  function exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = diskQueue.then(task, task);
    diskQueue = run.catch(() => undefined);
    return run;
  }

  async function writeNow(text: string, alsoBackup = false): Promise<void> {
    await assertDiskUnchanged();
    await writeVaultFile(paths, text, alsoBackup ? text : diskText);
    diskText = text;
  }

  function persist(): Promise<void> {
    const gen = ++generation;
    const done = new Promise<void>((resolve, reject) => waiters.push({ gen, resolve, reject }));
    loop ??= (async () => {
      try {
        while (written < generation) {
          const target = generation;
          try {
            await exclusive(() => {
              if (state === 'damaged' || !file) throw damage ?? errors.internal('The vault is not open.');
              file = sealForWrite({ ...file, key: upgradedKey ?? file.key }, integrityKey);
              upgradedKey = undefined;
              return writeNow(serializeVaultFile(file));
            });
            written = target;
            settle(target, undefined);
          } catch (err) {
            // Every change made so far rides on this write or a later one: they fail together, and memory goes back
            // to what is on disk, so a change reported as failed never lands later with someone else's write.
            const failedUpTo = generation;
            if (state === 'unlocked') rollBackToDisk();
            written = failedUpTo;
            settle(failedUpTo, isAppError(err) ? err : vaultErrors.vaultWriteFailed(paths.vault, err));
          }
        }
      } finally {
        loop = undefined;
        if (state !== 'unlocked') wipeIntegrityKey();
      }
    })();
    return done;
  }

  /** Memory as the file on disk says, after a write that did not happen. */
  function rollBackToDisk(): void {
    if (diskText === undefined || !dataKey) return;
    const data = JSON.parse(diskText) as VaultFileData;
    const records = decryptAll(dataKey, data);
    if (records instanceof AppError) {
      markDamaged(records, undefined);
      return;
    }
    file = data;
    plain.clear();
    for (const [id, value] of records) plain.set(id, deepFreeze(value));
  }

  function settle(upTo: number, err: unknown): void {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (w.gen > upTo) continue;
      waiters.splice(i, 1);
      if (err) w.reject(err);
      else w.resolve();
    }
  }

  const vault: Vault = {
    path: paths.vault,

    async open() {
      upgradedKey = undefined;
      await removeStaleTemps(paths.vault);
      await removeStaleTemps(paths.vaultBackup);
      // Taken before the read: a change that lands between the two makes the next reopenIfChanged read again.
      const files = await readFileIdentity();
      openedFiles = files;
      const read = await loadVaultFile(paths.vault);
      if (read.kind === 'damaged') {
        markDamaged(errors.vaultDamaged(paths.vault, read.detail), files);
        return { created: false };
      }
      if (read.kind === 'missing') {
        if (await exists(paths.vaultBackup)) {
          markDamaged(vaultErrors.vaultMissing(paths.vault), files);
          return { created: false };
        }
        // First use: keyfile mode, zero set-up. An existing master.key is reused.
        let master = await readMasterKey();
        if (!master) {
          master = randomBytes(32);
          await writeFileAtomic(paths.masterKey, master);
        }
        const key = randomBytes(32);
        const { kdf, wrapped } = await wrapUnder(master, key);
        const macKey = deriveIntegrityKey(key);
        file = sealForWrite({ version: VAULT_FORMAT_VERSION, mode: 'keyfile', kdf, key: wrapped, records: {} }, macKey);
        macKey.fill(0);
        diskText = undefined;
        await writeNow(serializeVaultFile(file));
        adopt(key, new Map());
        return { created: true };
      }
      file = read.data;
      diskText = read.text;
      if (file.mode === 'passphrase') {
        wipeKey();
        state = 'locked';
        damage = undefined;
        return { created: false };
      }
      const master = await readMasterKey();
      if (!master) {
        markDamaged(vaultErrors.keyFileMissing(paths.vault, paths.masterKey), files);
        return { created: false };
      }
      const kek = await deriveKey(master, file.kdf);
      let unwrapped: { key: Buffer; legacy: boolean };
      try {
        unwrapped = unwrapDataKey(kek, file.key);
      } catch {
        markDamaged(
          errors.vaultDamaged(paths.vault, `its data key does not open with the key file ${paths.masterKey}`),
          files,
        );
        return { created: false };
      }
      const records = openRecords(kek, unwrapped, file);
      if (records instanceof AppError) {
        markDamaged(records, files);
        return { created: false };
      }
      adopt(unwrapped.key, records);
      return { created: false };
    },

    reopenIfChanged() {
      if (state !== 'damaged') return Promise.resolve();
      // One re-read at a time; requests that arrive meanwhile wait for its verdict. Through the disk queue, so
      // it never overlaps a write (a damaged vault writes nothing, but a passphrase change may be finishing).
      reopening ??= exclusive(async () => {
        if (state !== 'damaged' || (await readFileIdentity()) === damagedFiles) return;
        await vault.open();
      }).finally(() => {
        reopening = undefined;
      });
      return reopening;
    },

    status() {
      return {
        path: paths.vault,
        mode: file?.mode ?? 'keyfile',
        state,
        records: file ? Object.keys(file.records).length : 0,
        ...(damage ? { error: damage } : {}),
      };
    },

    async unlock(passphrase) {
      if (state === 'damaged') throw damage!;
      if (!file) throw errors.internal('The vault is not open.');
      if (file.mode !== 'passphrase') {
        throw errors.vaultMode(
          'The vault uses a key file and is always unlocked.',
          "Set a passphrase with 'authsome passphrase set'.",
        );
      }
      if (state === 'unlocked') return;
      const { kek, unwrapped } = await unwrapWithPassphrase(passphrase, file);
      const records = openRecords(kek, unwrapped, file);
      if (records instanceof AppError) {
        markDamaged(records, openedFiles);
        throw records;
      }
      adopt(unwrapped.key, records);
    },

    lock() {
      if (state === 'damaged') throw damage!;
      if (file?.mode !== 'passphrase') {
        throw errors.vaultMode(
          'The vault uses a key file, so locking it would have no effect.',
          "Set a passphrase first with 'authsome passphrase set'.",
        );
      }
      wipeKey();
      state = 'locked';
    },

    get<T>(id: string): T | undefined {
      requireUnlocked();
      const value = plain.get(id);
      return value === undefined ? undefined : (structuredClone(value) as T);
    },

    view<T>(id: string): Readonly<T> | undefined {
      requireUnlocked();
      return plain.get(id) as Readonly<T> | undefined;
    },

    list(prefix) {
      requireUnlocked();
      return [...plain.keys()].filter((id) => id.startsWith(prefix)).sort();
    },

    async apply(changes) {
      requireUnlocked();
      const key = dataKey!;
      for (const change of changes) {
        if ('delete' in change) {
          plain.delete(change.id);
          delete file!.records[change.id];
        } else {
          const value = deepFreeze(structuredClone(change.value));
          plain.set(change.id, value);
          file!.records[change.id] = seal(key, Buffer.from(JSON.stringify(value), 'utf8'), change.id);
        }
      }
      await persist();
    },

    put(id, value) {
      return vault.apply([{ id, value }]);
    },

    async remove(id) {
      requireUnlocked();
      if (!plain.has(id)) return false;
      await vault.apply([{ id, delete: true }]);
      return true;
    },

    async setPassphrase(passphrase) {
      requireUnlocked();
      if (passphrase.length < MIN_PASSPHRASE_LENGTH) {
        throw errors.invalidInput(
          `The passphrase is too short (${passphrase.length} characters).`,
          `Use at least ${MIN_PASSPHRASE_LENGTH} characters; a few random words make a good one.`,
        );
      }
      const { kdf, wrapped } = await wrapUnder(passphrase, dataKey!);
      await exclusive(async () => {
        // A new wrapping under DATA_KEY_AAD replaces any pending upgrade of a legacy one.
        const next = sealForWrite({ ...file!, mode: 'passphrase', kdf, key: wrapped }, integrityKey);
        // The backup is written in passphrase mode too, so no copy of the key-file wrapping outlives the key file.
        await writeNow(serializeVaultFile(next), true);
        file = next;
        upgradedKey = undefined;
        await rm(paths.masterKey, { force: true });
      });
    },

    async checkPassphrase(passphrase) {
      if (state === 'damaged') throw damage!;
      if (file?.mode !== 'passphrase')
        throw errors.vaultMode('The vault has no passphrase.', 'It is unlocked by its key file.');
      // Through the same unwrap as unlock: a vault not yet re-sealed by this version wraps its key the older way.
      const { kek, unwrapped } = await unwrapWithPassphrase(passphrase, file);
      kek.fill(0);
      unwrapped.key.fill(0);
    },

    async removePassphrase(passphrase) {
      if (state === 'damaged') throw damage!;
      if (file?.mode !== 'passphrase') {
        throw errors.vaultMode('The vault has no passphrase.', 'It is unlocked by its key file already.');
      }
      const { kek, unwrapped } = await unwrapWithPassphrase(passphrase, file);
      if (state !== 'unlocked') {
        const records = openRecords(kek, unwrapped, file);
        if (records instanceof AppError) {
          markDamaged(records, openedFiles);
          throw records;
        }
        adopt(unwrapped.key, records);
      }
      const master = randomBytes(32);
      const { kdf, wrapped } = await wrapUnder(master, dataKey!);
      await exclusive(async () => {
        // Checked before the key file is written too: a vault.json put there by someone else may need the old one.
        await assertDiskUnchanged();
        // Key file first: a crash before the vault write leaves a passphrase vault that still opens.
        await writeFileAtomic(paths.masterKey, master);
        const next = sealForWrite({ ...file!, mode: 'keyfile', kdf, key: wrapped }, integrityKey);
        await writeNow(serializeVaultFile(next));
        file = next;
        upgradedKey = undefined;
      });
    },

    lastAccessAt() {
      return lastAccess;
    },
  };
  return vault;
}

/** Freezes a decrypted record and everything in it: what view() hands out cannot be changed by the reader. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

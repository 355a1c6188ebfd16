// Keeps the audit chain's head in the vault (record `audit-head`, sealed like every record) about once a second
// and at shutdown, and answers "is the log intact?". It never writes the vault per audit batch: the proxy records
// an entry per request, and the vault rewrites its whole file on every change.
import {
  AUDIT_CHECKPOINT_ID,
  verifyAuditFiles,
  type AuditAnchor,
  type AuditCheckpoint,
  type AuditVerification,
} from './audit-chain.js';
import type { AuditLog } from './audit.js';

/** The part of the vault a checkpointer needs (the vault satisfies it). */
export interface CheckpointStore {
  status(): { state: string };
  get<T = unknown>(id: string): T | undefined;
  put(id: string, value: unknown): Promise<void>;
}

export interface AuditCheckpointerOptions {
  audit: AuditLog;
  /** audit.log; audit.log.1 sits beside it. */
  path: string;
  store: CheckpointStore;
  /** How often the head is saved when it moved. Default 1 s. */
  intervalMs?: number;
  now?: () => Date;
  log?: (line: string) => void;
}

export interface AuditChainReport {
  verification: AuditVerification;
  /** Whether the vault's checkpoint was compared (not when the vault is locked or damaged, or has none yet). */
  checkpoint: 'compared' | 'none' | 'unavailable';
}

export interface AuditCheckpointer {
  /** Saves the head now when it moved (after every record() so far is on disk). */
  checkpointNow(): Promise<void>;
  /** Verifies audit.log.1 + audit.log against the vault's checkpoint and the head this process wrote. */
  verify(): Promise<AuditChainReport>;
  /** Stops the timer, closes the audit log, and saves its head as where the log ends (until the next server). */
  close(): Promise<void>;
}

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 1_000;

export function createAuditCheckpointer(options: AuditCheckpointerOptions): AuditCheckpointer {
  const { audit, store, path } = options;
  const now = options.now ?? (() => new Date());
  const log = options.log ?? (() => {});
  // A checkpoint is only ever replaced by one further along the same chain. The lines this process wrote extend
  // whatever the file held when it started, so one check of the file against the stored checkpoint (the first
  // time the vault is readable) is enough; a log found broken then keeps its checkpoint as the evidence.
  let trusted = false;
  let refused = false;
  let saving: Promise<void> = Promise.resolve();

  const isReadable = () => store.status().state === 'unlocked';
  const readCheckpoint = () => (isReadable() ? store.get<AuditCheckpoint>(AUDIT_CHECKPOINT_ID) : undefined);
  const anchorOf = (stored: AuditCheckpoint): AuditAnchor => ({
    seq: stored.seq,
    hash: stored.hash,
    oldest: stored.oldest,
    ...(stored.closed ? { closedUntil: audit.firstOwnSeq() ?? Infinity } : {}),
    source: 'the vault checkpoint',
  });

  function buildAnchors(stored: AuditCheckpoint | undefined): AuditAnchor[] {
    const anchors: AuditAnchor[] = [];
    if (stored) anchors.push(anchorOf(stored));
    const live = audit.head();
    if (live && live.seq > 0) anchors.push({ ...live, oldest: audit.oldest(), source: 'the running server' });
    return anchors;
  }

  /** `quiet`: the caller already holds the log still (the rotation hook runs inside the writer's queue). */
  async function ensureTrusted(quiet: boolean): Promise<boolean> {
    if (trusted || refused) return trusted;
    const stored = readCheckpoint();
    if (stored) {
      const check = () => verifyAuditFiles(path, [anchorOf(stored)]);
      const found = quiet ? await check() : await audit.whileQuiet(check);
      if (!found.intact) {
        refused = true;
        log(
          `Warning: the audit log does not match the checkpoint in the vault (${found.file} line ` +
            `${found.line}: ${found.reason}); the checkpoint is kept as it is.`,
        );
        return false;
      }
    }
    trusted = true;
    return true;
  }

  /** Puts the head in the vault when it moved. Reads and writes with no await in between, so the newest call wins. */
  function writeCheckpoint(oldest = audit.oldest(), closed = false): Promise<void> {
    const head = audit.head();
    const stored = readCheckpoint();
    if (!head || (stored && head.seq < stored.seq)) return Promise.resolve();
    if (stored && head.seq === stored.seq && stored.oldest === oldest && Boolean(stored.closed) === closed)
      return Promise.resolve();
    const checkpoint: AuditCheckpoint = {
      seq: head.seq,
      hash: head.hash,
      ...(oldest !== undefined ? { oldest } : {}),
      ...(closed ? { closed } : {}),
      at: now().toISOString(),
    };
    return store.put(AUDIT_CHECKPOINT_ID, checkpoint);
  }

  /** One save at a time; a failed one (vault locked meanwhile, disk full) is tried again at the next tick. */
  function save(closed = false): Promise<void> {
    saving = saving
      .then(async () => {
        if (isReadable() && (await ensureTrusted(false))) await writeCheckpoint(audit.oldest(), closed);
      })
      .catch((err: unknown) => {
        log(`Could not save the audit checkpoint: ${(err as Error).message}`);
      });
    return saving;
  }

  // Before audit.log.1 is replaced, the vault learns where the files will start, so a rotation faked by renaming
  // files (which drops the older entries) is told apart from a real one. A locked vault cannot learn it: the
  // rotation waits until it is unlocked rather than leave a gap the next verification would call tampering.
  audit.setBeforeRotate(async (oldestAfter) => {
    const state = store.status().state;
    if (state === 'locked') return false;
    if (state !== 'unlocked') return true;
    try {
      if (await ensureTrusted(true)) await writeCheckpoint(oldestAfter);
      return true;
    } catch (err) {
      log(`Could not save the audit checkpoint before rotating the log: ${(err as Error).message}`);
      return false;
    }
  });

  let lastSeen: string | undefined;
  const timer = setInterval(() => {
    const seen = `${audit.head()?.seq}:${audit.oldest()}`;
    if (seen === lastSeen) return;
    lastSeen = seen;
    void save();
  }, options.intervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS);
  timer.unref();

  return {
    async checkpointNow() {
      await audit.flush();
      await save();
    },
    async verify() {
      await audit.flush();
      await save();
      const stored = readCheckpoint();
      const verification = await audit.whileQuiet(() => verifyAuditFiles(path, buildAnchors(stored)));
      return { verification, checkpoint: stored ? 'compared' : isReadable() ? 'none' : 'unavailable' };
    },
    async close() {
      clearInterval(timer);
      // Closed first, so the last entry is on disk; the checkpoint then says the log ends there, and a line
      // appended while no server runs (an agent forging entries) is told apart from one a server wrote.
      await audit.close();
      await save(true);
    },
  };
}

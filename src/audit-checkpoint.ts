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
  /** Stops the timer and saves the head a last time. */
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
  let savedSeq = -1;
  let saving: Promise<void> = Promise.resolve();

  const isReadable = () => store.status().state === 'unlocked';
  const readCheckpoint = () => (isReadable() ? store.get<AuditCheckpoint>(AUDIT_CHECKPOINT_ID) : undefined);

  function buildAnchors(stored: AuditCheckpoint | undefined): AuditAnchor[] {
    const anchors: AuditAnchor[] = [];
    if (stored) anchors.push({ seq: stored.seq, hash: stored.hash, source: 'the vault checkpoint' });
    const live = audit.head();
    if (live && live.seq > 0) anchors.push({ ...live, source: 'the running server' });
    return anchors;
  }

  async function saveOnce(): Promise<void> {
    if (refused || !isReadable()) return;
    const stored = readCheckpoint();
    if (!trusted) {
      if (stored) {
        const found = await audit.whileQuiet(() => verifyAuditFiles(path, [{ ...stored, source: 'the vault checkpoint' }]));
        if (!found.intact) {
          refused = true;
          log(`Warning: the audit log does not match the checkpoint in the vault (${found.file} line ${found.line}: ${found.reason}); the checkpoint is kept as it is.`);
          return;
        }
      }
      trusted = true;
    }
    const head = audit.head();
    if (!head || head.seq <= Math.max(savedSeq, stored?.seq ?? 0)) return;
    const checkpoint: AuditCheckpoint = { seq: head.seq, hash: head.hash, at: now().toISOString() };
    await store.put(AUDIT_CHECKPOINT_ID, checkpoint);
    savedSeq = head.seq;
  }

  /** One save at a time; a failed one (vault locked meanwhile, disk full) is tried again at the next tick. */
  function save(): Promise<void> {
    saving = saving.then(saveOnce).catch((err: unknown) => {
      log(`Could not save the audit checkpoint: ${(err as Error).message}`);
    });
    return saving;
  }

  const timer = setInterval(() => {
    const head = audit.head();
    if (head && head.seq > savedSeq) void save();
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
      await audit.flush();
      await save();
    },
  };
}

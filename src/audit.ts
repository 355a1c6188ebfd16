// Append-only JSON-lines audit log (SPEC §7). It takes named safe fields only: there is no field that could
// carry a secret, a header value or a query string, and `path` is cut at '?' defensively.
import { open, readFile, type FileHandle } from 'node:fs/promises';

export type AuditEventName =
  | 'login'
  | 'logout'
  | 'revoke'
  | 'remove'
  | 'export'
  | 'reveal'
  | 'set_default'
  | 'register'
  | 'override_saved'
  | 'override_reset'
  | 'unlock'
  | 'lock'
  | 'passphrase_set'
  | 'passphrase_removed'
  | 'run_start'
  | 'run_end'
  | 'inject'
  | 'no_match'
  | 'ambiguous'
  | 'refresh'
  | 'refresh_failed';

export interface AuditFields {
  provider?: string;
  connection?: string;
  run?: string;
  method?: string;
  host?: string;
  path?: string;
  status?: number;
  ms?: number;
  reason?: string;
}

export interface AuditEntry extends AuditFields {
  ts: string;
  event: AuditEventName;
}

export interface AuditLog {
  record(event: AuditEventName, fields?: AuditFields): void;
  /** Resolves when every record() so far is on disk. */
  flush(): Promise<void>;
  /** Flushes and closes the file. */
  close(): Promise<void>;
  readRecent(limit: number): Promise<AuditEntry[]>;
  /** Called for every entry after it is queued (the activity page listens). */
  subscribe(listener: (entry: AuditEntry) => void): () => void;
}

const SAFE_KEYS: (keyof AuditFields)[] = ['provider', 'connection', 'run', 'method', 'host', 'path', 'status', 'ms', 'reason'];

export function buildAuditEntry(event: AuditEventName, fields: AuditFields = {}, now = new Date()): AuditEntry {
  const entry: AuditEntry = { ts: now.toISOString(), event };
  for (const key of SAFE_KEYS) {
    const value = fields[key];
    if (value === undefined || value === null) continue;
    if (key === 'status' || key === 'ms') {
      if (typeof value === 'number' && Number.isFinite(value)) (entry as unknown as Record<string, unknown>)[key] = value;
      continue;
    }
    let text = String(value);
    if (key === 'path') text = text.split('?')[0]!;
    (entry as unknown as Record<string, unknown>)[key] = text.slice(0, 512);
  }
  return entry;
}

export function createAuditLog(path: string): AuditLog {
  // Lines queue in memory and go out in one write per event-loop turn through a handle opened once: the proxy
  // records an entry per request, and an open/append/close per line falls seconds behind under load.
  let pending: string[] = [];
  let scheduled = false;
  let chain: Promise<void> = Promise.resolve();
  let handle: FileHandle | undefined;
  const listeners = new Set<(entry: AuditEntry) => void>();

  async function openLog(): Promise<FileHandle> {
    // Created 0600 by us, so the mode never depends on the umask.
    const opened = await open(path, 'a+', 0o600);
    // A crash mid-append leaves a torn last line: end it, so the next entry starts on a line of its own.
    const { size } = await opened.stat();
    if (size > 0) {
      const last = Buffer.alloc(1);
      await opened.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) await opened.appendFile('\n');
    }
    return opened;
  }

  function writeOut(): void {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join('');
    pending = [];
    chain = chain
      .then(async () => {
        handle ??= await openLog();
        await handle.appendFile(text);
      })
      .catch((err: unknown) => {
        process.stderr.write(`authsome: could not write the audit log ${path}: ${(err as Error).message}\n`);
      });
  }

  return {
    record(event, fields) {
      const entry = buildAuditEntry(event, fields);
      pending.push(`${JSON.stringify(entry)}\n`);
      if (!scheduled) {
        scheduled = true;
        setImmediate(writeOut);
      }
      for (const listener of listeners) listener(entry);
    },
    flush() {
      writeOut();
      return chain;
    },
    async close() {
      writeOut();
      await chain;
      await handle?.close();
      handle = undefined;
    },
    async readRecent(limit) {
      writeOut();
      await chain;
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw err;
      }
      const lines = text.split('\n').filter((l) => l.trim() !== '');
      const out: AuditEntry[] = [];
      // Newest first until `limit` entries parse, so a skipped line never costs one of them (and 0 means none).
      for (let i = lines.length - 1; i >= 0 && out.length < limit; i--) {
        try {
          out.push(JSON.parse(lines[i]!) as AuditEntry);
        } catch {
          // A torn last line after a crash is skipped, not fatal.
        }
      }
      return out.reverse();
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

// Append-only JSON-lines audit log. It takes named safe fields only: there is no field that could
// carry a secret, a header value or a query string, and `path` is cut at '?' defensively. It keeps at most two
// files (audit.log and the rotated audit.log.1) and reads only their tails. Every line it writes carries `seq`
// and `prev`, the hash chain that audit-chain.ts verifies; rotation does not break it.
import { open, rename, type FileHandle } from 'node:fs/promises';
import { AUDIT_GENESIS, findAuditHead, hashAuditLine, readChainSeq, type AuditHead } from './audit-chain.js';

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
  | 'refresh_failed'
  /** Something a run's process asked for and did not get. */
  | 'denied'
  | 'secret_in_response';

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
  /** The program a run started: its file name only (`python3`), never a path or an argument (see runs/). */
  program?: string;
}

export interface AuditEntry extends AuditFields {
  ts: string;
  event: AuditEventName;
  /** The line's position in the hash chain (absent on lines of older versions). */
  seq?: number;
  /** base64url SHA-256 of the previous line's bytes (see audit-chain.ts). */
  prev?: string;
}

export interface AuditLog {
  record(event: AuditEventName, fields?: AuditFields): void;
  /** Resolves when every record() so far is on disk. */
  flush(): Promise<void>;
  /** Flushes and closes the file. */
  close(): Promise<void>;
  /** The newest `limit` entries, oldest first, from the end of audit.log (and audit.log.1 when it runs short). */
  readRecent(limit: number): Promise<AuditEntry[]>;
  /** Called for every entry after it is queued (the activity page listens). */
  subscribe(listener: (entry: AuditEntry) => void): () => void;
  /** The chain head as written to disk by this writer so far: undefined until its first write. */
  head(): AuditHead | undefined;
  /** The first entry this writer appended: undefined until its first write. */
  firstOwnSeq(): number | undefined;
  /** The entry the files start at (the first line of audit.log.1, or of audit.log): undefined until the first write. */
  oldest(): number | undefined;
  /**
   * `hook` runs before audit.log replaces audit.log.1 (and the older entries are gone), with the entry the files
   * will then start at. It runs between two batches, so it must not wait for this log; resolving false puts the
   * rotation off to a later batch (the log grows past maxBytes meanwhile).
   */
  setBeforeRotate(hook: (oldestAfter: number) => Promise<boolean>): void;
  /** Runs `task` once every record() so far is on disk, with no write or rotation until it settles. */
  whileQuiet<T>(task: () => Promise<T>): Promise<T>;
}

export interface AuditLogOptions {
  /** Before a write would take audit.log past this many bytes, it becomes audit.log.1 (replacing the older one). */
  maxBytes?: number;
}

export const DEFAULT_AUDIT_MAX_BYTES = 10 * 1024 * 1024;
const READ_BLOCK_BYTES = 64 * 1024;
/** Lines per write at most (~35 KiB). */
const MAX_BATCH_ENTRIES = 256;
/** How long a line may wait in memory for others to share its write. */
const AUDIT_BATCH_MS = 10;

/** A text field as logged: a string of at most 512 characters, or left out. */
function safeText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = typeof value === 'string' ? value : String(value);
  return text.length > 512 ? text.slice(0, 512) : text;
}

function safeNumber(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

/** A path as logged: never its query string (cut defensively, whoever called). */
function safePath(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  const text = String(value);
  const query = text.indexOf('?');
  return safeText(query === -1 ? text : text.slice(0, query));
}

/** The current time as ISO-8601, made once per millisecond: the proxy records an entry per request. */
let isoMs = Number.NaN;
let isoText = '';
function isoNow(): string {
  const ms = Date.now();
  if (ms !== isoMs) {
    isoMs = ms;
    isoText = new Date(ms).toISOString();
  }
  return isoText;
}

export function buildAuditEntry(event: AuditEventName, fields: AuditFields = {}, now?: Date): AuditEntry {
  // The named fields only, read one by one: anything else a caller slips in is dropped. Every entry has every key, in
  // this order (JSON leaves the undefined ones out): one object shape, which the proxy's entry per request keeps fast.
  return {
    ts: now === undefined ? isoNow() : now.toISOString(),
    event,
    provider: safeText(fields.provider),
    connection: safeText(fields.connection),
    run: safeText(fields.run),
    program: safeText(fields.program),
    method: safeText(fields.method),
    host: safeText(fields.host),
    path: safePath(fields.path),
    status: safeNumber(fields.status),
    ms: safeNumber(fields.ms),
    reason: safeText(fields.reason),
  };
}

/** A string needs JSON.stringify's escaping: a quote, a backslash, a control character or a UTF-16 surrogate. */
const NEEDS_ESCAPING = /["\\\u0000-\u001f\ud800-\udfff]/;

function jsonString(text: string): string {
  return NEEDS_ESCAPING.test(text) ? JSON.stringify(text) : `"${text}"`;
}

/** `,"key":value` for a text field, or nothing when it is left out. */
function textField(key: string, value: string | undefined): string {
  return value === undefined ? '' : `,"${key}":${jsonString(value)}`;
}

/**
 * The fields from event to host as last written: the same for every request of a busy connection (event, provider,
 * connection, run, program, method, host), so a line usually reuses them whole instead of escaping each again.
 */
const middle = {
  event: undefined as string | undefined,
  provider: undefined as string | undefined,
  connection: undefined as string | undefined,
  run: undefined as string | undefined,
  program: undefined as string | undefined,
  method: undefined as string | undefined,
  host: undefined as string | undefined,
  text: '',
};
/** `{"ts":"…"` for the last timestamp written (entries made in the same millisecond share it). */
let tsValue: string | undefined;
let tsText = '';

/**
 * JSON.stringify(entry) without its closing brace, byte for byte, for the entry buildAuditEntry makes (its keys in
 * its order, the undefined ones left out, numbers finite). Written out by hand: the proxy writes a line per request,
 * and this takes a fraction of the time JSON.stringify takes over the object.
 */
export function serializeAuditFields(entry: AuditEntry): string {
  if (entry.ts !== tsValue) {
    tsValue = entry.ts;
    tsText = `{"ts":${jsonString(entry.ts)}`;
  }
  const m = middle;
  if (
    entry.event !== m.event ||
    entry.provider !== m.provider ||
    entry.connection !== m.connection ||
    entry.run !== m.run ||
    entry.program !== m.program ||
    entry.method !== m.method ||
    entry.host !== m.host
  ) {
    m.event = entry.event;
    m.provider = entry.provider;
    m.connection = entry.connection;
    m.run = entry.run;
    m.program = entry.program;
    m.method = entry.method;
    m.host = entry.host;
    m.text =
      `,"event":${jsonString(entry.event)}` +
      textField('provider', entry.provider) +
      textField('connection', entry.connection) +
      textField('run', entry.run) +
      textField('program', entry.program) +
      textField('method', entry.method) +
      textField('host', entry.host);
  }
  let out = tsText + m.text + textField('path', entry.path);
  if (entry.status !== undefined) out += `,"status":${entry.status}`;
  if (entry.ms !== undefined) out += `,"ms":${entry.ms}`;
  if (entry.reason !== undefined) out += `,"reason":${jsonString(entry.reason)}`;
  return out;
}

export function createAuditLog(path: string, options: AuditLogOptions = {}): AuditLog {
  const maxBytes = options.maxBytes ?? DEFAULT_AUDIT_MAX_BYTES;
  const rotatedPath = `${path}.1`;
  // Lines queue in memory and go out together at most AUDIT_BATCH_MS after the first of them, through a handle
  // opened once: the proxy records an entry per request, and a file write per request was a quarter of its CPU time.
  // (A crash loses at most those milliseconds of lines, as it could always lose a write in flight; the checkpoint
  // in the vault covers what reached the file.)
  let pending: AuditEntry[] = [];
  let timer: NodeJS.Timeout | undefined;
  /** A write step is on the chain and has not taken its batch yet. */
  let stepQueued = false;
  // Writes, rotations and reads run one at a time on this chain, so a reader never sees a rotation half done
  // and a rotation never falls between the lines of one batch.
  let chain: Promise<void> = Promise.resolve();
  let handle: FileHandle | undefined;
  /** Bytes in audit.log as this writer left it: it is the only writer, so no stat per batch. */
  let size = 0;
  /** Where the chain stands on disk: read from the files' end before the first write, then kept in memory. */
  let head: AuditHead | undefined;
  // The entries audit.log and audit.log.1 start at, so that the checkpoint can say where the files must start.
  let currentFirst: number | undefined;
  let rotatedFirst: number | undefined;
  let firstOwn: number | undefined;
  let beforeRotate: ((oldestAfter: number) => Promise<boolean>) | undefined;
  const listeners = new Set<(entry: AuditEntry) => void>();

  async function openLog(): Promise<FileHandle> {
    // Created 0600 by us, so the mode never depends on the umask.
    const opened = await open(path, 'a+', 0o600);
    // A crash mid-append leaves a torn last line: end it, so the next entry starts on a line of its own.
    size = (await opened.stat()).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      await opened.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) {
        await opened.appendFile('\n');
        size += 1;
      }
    }
    return opened;
  }

  /** audit.log becomes audit.log.1 (rename keeps its 0600 mode); the next batch starts a new audit.log. */
  async function rotate(): Promise<void> {
    await handle?.close();
    handle = undefined;
    await rename(path, rotatedPath);
  }

  async function rotateIfAllowed(nextSeq: number): Promise<void> {
    if (beforeRotate && !(await beforeRotate(currentFirst!))) return;
    try {
      await rotate();
    } catch (err) {
      process.stderr.write(`authsome: could not rotate the audit log ${path}: ${(err as Error).message}\n`);
      return;
    }
    rotatedFirst = currentFirst;
    currentFirst = nextSeq;
  }

  /** The head at the end of audit.log, or of audit.log.1 when audit.log is empty (a rotation just happened). */
  async function loadHead(): Promise<AuditHead> {
    let found: AuditHead | undefined;
    for (const file of [path, rotatedPath]) {
      found = findAuditHead(await loadTailLines(file));
      if (found) break;
    }
    found ??= { seq: 0, hash: AUDIT_GENESIS };
    currentFirst = (await loadFirstSeq(path)) ?? found.seq + 1;
    rotatedFirst = await loadFirstSeq(rotatedPath);
    return found;
  }

  /**
   * Each entry's line, linked to the one before: seq and prev go last, after the fields a person reads. (A hash is
   * base64url: no escaping.)
   */
  function buildChainedText(entries: AuditEntry[], from: AuditHead): { text: string; head: AuditHead } {
    let text = '';
    let { seq, hash } = from;
    for (const entry of entries) {
      seq++;
      const line = `${serializeAuditFields(entry)},"seq":${seq},"prev":"${hash}"}`;
      hash = hashAuditLine(line);
      text += `${line}\n`;
    }
    return { text, head: { seq, hash } };
  }

  /**
   * Queues one write step unless one is already waiting to start. The step takes whatever is pending when it
   * starts, not when it was queued: while a write is on disk, the lines of the next turns gather into one batch
   * (under load, one appendFile for many requests instead of one per event-loop turn).
   */
  function writeOut(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0 || stepQueued) return;
    stepQueued = true;
    chain = chain
      .then(async () => {
        stepQueued = false;
        const taken = pending;
        pending = [];
        // In bounded batches: a rotation happens between batches, and one batch that is a large share of maxBytes
        // could turn the files over twice in a row, dropping a whole file of recent lines.
        for (let at = 0; at < taken.length; at += MAX_BATCH_ENTRIES) {
          await appendBatch(taken.length <= MAX_BATCH_ENTRIES ? taken : taken.slice(at, at + MAX_BATCH_ENTRIES));
        }
      })
      .catch((err: unknown) => {
        stepQueued = false;
        process.stderr.write(`authsome: could not write the audit log ${path}: ${(err as Error).message}\n`);
      });
  }

  async function appendBatch(batch: AuditEntry[]): Promise<void> {
    handle ??= await openLog();
    head ??= await loadHead();
    const { text, head: next } = buildChainedText(batch, head);
    const bytes = Buffer.byteLength(text);
    // Between batches only, so every entry is whole in exactly one of the two files.
    if (size > 0 && size + bytes > maxBytes) {
      await rotateIfAllowed(head.seq + 1);
      handle ??= await openLog();
    }
    await handle.appendFile(text);
    size += bytes;
    firstOwn ??= head.seq + 1;
    head = next;
  }

  return {
    record(event, fields) {
      const entry = buildAuditEntry(event, fields);
      pending.push(entry);
      if (timer === undefined) {
        timer = setTimeout(writeOut, AUDIT_BATCH_MS);
      }
      if (listeners.size > 0) for (const listener of listeners) listener(entry);
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
    readRecent(limit) {
      writeOut();
      const read = chain.then(async () => {
        const newestFirst: AuditEntry[] = [];
        for (const file of [path, rotatedPath]) {
          if (newestFirst.length >= limit) break;
          await loadTailEntries(file, limit, newestFirst);
        }
        return newestFirst.reverse();
      });
      chain = read.then(
        () => undefined,
        () => undefined,
      );
      return read;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    head() {
      return head;
    },
    firstOwnSeq() {
      return firstOwn;
    },
    oldest() {
      return head ? (rotatedFirst ?? currentFirst) : undefined;
    },
    setBeforeRotate(hook) {
      beforeRotate = hook;
    },
    whileQuiet(task) {
      writeOut();
      const run = chain.then(task);
      chain = run.then(
        () => undefined,
        () => undefined,
      );
      return run;
    },
  };
}

/**
 * Adds entries from the end of `file` to `out`, newest first, until `out` holds `limit`. It reads backwards in
 * blocks, so a dashboard load costs a few kilobytes however long the log has grown. A line that does not parse
 * (a torn last line after a crash) is skipped and does not count.
 */
async function loadTailEntries(file: string, limit: number, out: AuditEntry[]): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    let pos = (await handle.stat()).size;
    // The start of a line whose beginning lies before `pos`, not read yet.
    let tail = Buffer.alloc(0);
    while (pos > 0 && out.length < limit) {
      const length = Math.min(READ_BLOCK_BYTES, pos);
      pos -= length;
      const block = Buffer.alloc(length);
      const { bytesRead } = await handle.read(block, 0, length, pos);
      const buf = Buffer.concat([block.subarray(0, bytesRead), tail]);
      // Splitting bytes at 0x0a is safe: that byte never occurs inside a multi-byte UTF-8 character.
      let end = buf.length;
      let newline = end > 0 ? buf.lastIndexOf(0x0a, end - 1) : -1;
      while (newline !== -1 && out.length < limit) {
        pushEntry(buf.subarray(newline + 1, end), out);
        end = newline;
        newline = end > 0 ? buf.lastIndexOf(0x0a, end - 1) : -1;
      }
      tail = buf.subarray(0, end);
    }
    if (pos === 0 && out.length < limit) pushEntry(tail, out);
  } finally {
    await handle.close();
  }
}

/**
 * The complete lines in the last block of `file` (a line cut by the block's start is dropped): enough to find the
 * chain head, which is nearly always the last line. Empty when the file is missing or empty.
 */
async function loadTailLines(file: string): Promise<string[]> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  try {
    const size = (await handle.stat()).size;
    const start = Math.max(0, size - READ_BLOCK_BYTES);
    const block = Buffer.alloc(size - start);
    const { bytesRead } = await handle.read(block, 0, block.length, start);
    const lines = block.subarray(0, bytesRead).toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    if (start > 0) lines.shift();
    return lines;
  } finally {
    await handle.close();
  }
}

/**
 * The entry a file starts at: its first line's seq, or 1 when that line is an older version's (the chain, if the
 * file has one, starts after those lines at entry 1). Undefined for a missing or empty file.
 */
async function loadFirstSeq(file: string): Promise<number | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const block = Buffer.alloc(READ_BLOCK_BYTES);
    const { bytesRead } = await handle.read(block, 0, block.length, 0);
    if (bytesRead === 0) return undefined;
    const end = block.subarray(0, bytesRead).indexOf(0x0a);
    return readChainSeq(block.subarray(0, end === -1 ? bytesRead : end).toString('utf8')) ?? 1;
  } finally {
    await handle.close();
  }
}

function pushEntry(line: Buffer, out: AuditEntry[]): void {
  const text = line.toString('utf8').trim();
  if (text === '') return;
  try {
    out.push(JSON.parse(text) as AuditEntry);
  } catch {
    // A torn last line after a crash is skipped, not fatal.
  }
}

// The audit log's hash chain: every line carries `seq` (its number since the chain began) and `prev` (base64url
// SHA-256 of the previous line's bytes), and the vault keeps a checkpoint of the head. This file owns the
// verification of audit.log.1 + audit.log against those checkpoints; it never writes the log and never prints.
//
// What is detected: any line edited, deleted, inserted or moved before the newest checkpoint (the chain no longer
// links, or the line at the checkpoint's position hashes differently); a log cut shorter than a checkpoint; lines
// cut from the start, audit.log.1 deleted, or a rotation faked by renaming (the checkpoint says which entry the
// files start at, and a real rotation updates it before it drops anything); a log replaced by a self-consistent
// fake chain (it cannot reproduce the checkpoint's hash). While the server runs, verification also compares with
// the head the writer holds in memory, so a cut made after the last checkpoint is seen at once.
// What is not: entries written after the last vault checkpoint by a server that then died without a shutdown
// (kill -9, power loss) can be cut off unnoticed: at most about a second's worth, as the checkpoint is written
// about once a second and at shutdown. While the vault stays locked no checkpoint is written, so only the links
// between lines are checked. A change to the newest lines after the last checkpoint, made while no server runs,
// looks like entries that were never written. And the checkpoint is only as safe as the vault: whoever holds the
// master secret (master.key in key-file mode) can write a new one.
import { readFile } from 'node:fs/promises';
import { sha256Base64url } from './secret-digest.js';

/** What the first line of a fresh log chains from: a fixed value, so a log that starts anywhere else is visible. */
export const AUDIT_GENESIS = hashAuditLine('authsome audit log genesis v1');

/** The vault record that holds the newest checkpoint. */
export const AUDIT_CHECKPOINT_ID = 'audit-head';

/** A position in the chain: entry number `seq` and the hash of that line's bytes. */
export interface AuditHead {
  seq: number;
  hash: string;
}

export interface AuditCheckpoint extends AuditHead {
  /** The entry the files start at: they may start earlier, never later (older entries removed). */
  oldest?: number;
  /** Written at shutdown: the log ended here, and nothing may follow until the next server writes. */
  closed?: boolean;
  /** When it was written (ISO-8601). */
  at: string;
}

/** A position the log must contain, and who vouches for it (named in the reason when it does not). */
export interface AuditAnchor extends AuditHead {
  oldest?: number;
  /** The log ended at `seq` when a server stopped; the next entry a server wrote is this one (Infinity: none yet). */
  closedUntil?: number;
  source: string;
}

export interface AuditFileText {
  /** As shown to a person: the file's path. */
  name: string;
  text: string;
}

export type AuditVerification =
  | {
      intact: true;
      /** Lines in the chain. */
      entries: number;
      /** Lines before the chain began, written by a version that did not chain (never tampering by themselves). */
      unchained: number;
      /** Lines cut short by a crash mid-write; the chain still covers their bytes. */
      torn: number;
    }
  | {
      intact: false;
      entries: number;
      unchained: number;
      torn: number;
      /**
       * The file and 1-based line of the first line that is wrong (or, for a cut log, where the next line is missing).
       */
      file: string;
      line: number;
      reason: string;
    };

/** base64url SHA-256 of one line's bytes, without its newline. */
export function hashAuditLine(line: string): string {
  return sha256Base64url(line);
}

interface ChainFields {
  seq: number;
  prev: string;
}

// The writer puts seq and prev last, so a line it wrote ends like this; matching it spares a JSON.parse per line
// (a verification reads up to 20 MiB while the proxy waits). A line that does not match is parsed in full.
const CHAIN_TAIL = /,"seq":([1-9]\d{0,15}),"prev":"([A-Za-z0-9_-]{43})"\}$/;

/** Lines checked between two turns of the event loop, so that the proxy keeps serving during a verification. */
const LINES_PER_TURN = 2_000;

/** The line's chain fields, or undefined when it has none (an older version's line) or does not parse (torn). */
function parseChainFields(line: string): ChainFields | 'unchained' | 'torn' {
  const tail = CHAIN_TAIL.exec(line);
  if (tail && Number.isSafeInteger(Number(tail[1]))) return { seq: Number(tail[1]), prev: tail[2]! };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return 'torn';
  }
  if (!value || typeof value !== 'object') return 'torn';
  const { seq, prev } = value as Record<string, unknown>;
  if (Number.isSafeInteger(seq) && (seq as number) >= 1 && typeof prev === 'string')
    return { seq: seq as number, prev };
  return 'unchained';
}

/** The line's position in the chain; undefined for an older version's line or a torn one. */
export function readChainSeq(line: string): number | undefined {
  const fields = parseChainFields(line);
  return typeof fields === 'object' ? fields.seq : undefined;
}

/** Lines of a file's text; a last line without its newline (torn by a crash) is a line too. */
function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/**
 * Checks the files, oldest first, as one chain: continuity of every line after the first chained one, and that
 * every anchor's position is present with the anchor's hash. Reports the first line that is wrong.
 */
export async function verifyAuditChain(files: AuditFileText[], anchors: AuditAnchor[]): Promise<AuditVerification> {
  let entries = 0;
  let unchained = 0;
  let torn = 0;
  // The previous line (any kind), where it is, and the chain position reached so far.
  let previous: { file: string; line: number; hash: string } | undefined;
  let nextSeq: number | undefined;
  let firstSeq: number | undefined;
  let firstAt = { file: files[0]?.name ?? 'audit.log', line: 1 };
  let last: { file: string; lines: number } = { file: files.at(-1)?.name ?? 'audit.log', lines: 0 };
  const broken = (file: string, line: number, reason: string): AuditVerification => ({
    intact: false,
    entries,
    unchained,
    torn,
    file,
    line,
    reason,
  });

  for (const file of files) {
    const lines = splitLines(file.text);
    last = { file: file.name, lines: lines.length };
    for (const [index, text] of lines.entries()) {
      if (index % LINES_PER_TURN === LINES_PER_TURN - 1) await new Promise((resolve) => setImmediate(resolve));
      const here = { file: file.name, line: index + 1, hash: hashAuditLine(text) };
      const fields = parseChainFields(text);
      let seq: number;
      if (nextSeq === undefined) {
        // Before the chain began: lines of an older version, which it does not cover.
        if (fields === 'unchained' || fields === 'torn') {
          unchained++;
          previous = here;
          continue;
        }
        // No line at all before it: the first line of the files, whichever file holds it.
        const startsOldestFile = previous === undefined;
        if (fields.seq === 1) {
          const expected = previous?.hash ?? AUDIT_GENESIS;
          if (fields.prev !== expected)
            return broken(
              here.file,
              here.line,
              'the chain starts here but does not link to the line before it (or to the start of a new log)',
            );
        } else if (!startsOldestFile) {
          return broken(
            here.file,
            here.line,
            `it continues a chain at entry #${fields.seq}, but the entries before it are not in the log`,
          );
        }
        // Otherwise the oldest file's first line, whose predecessor was rotated away: taken as given.
        seq = fields.seq;
        firstSeq = seq;
        firstAt = { file: here.file, line: here.line };
      } else if (fields === 'torn') {
        // A line cut short by a crash: the next line must still link to its bytes, so it is covered like any other.
        torn++;
        seq = nextSeq;
      } else if (fields === 'unchained') {
        return broken(here.file, here.line, 'it has no hash link (it was not written by authsome, or was edited)');
      } else if (fields.seq !== nextSeq) {
        return broken(
          here.file,
          here.line,
          `expected entry #${nextSeq} here but found #${fields.seq} (lines were removed, added or moved)`,
        );
      } else if (fields.prev !== previous!.hash) {
        // The position is right, so the line before changed after it was written (or this line's link did).
        return broken(
          previous!.file,
          previous!.line,
          `it was changed after it was written (the next line's hash link does not match it)`,
        );
      } else {
        seq = fields.seq;
      }
      for (const anchor of anchors) {
        if (anchor.seq === seq && anchor.hash !== here.hash) {
          return broken(
            here.file,
            here.line,
            `entry #${seq} does not match the checkpoint kept by ${anchor.source} (the log was rewritten)`,
          );
        }
        if (anchor.closedUntil !== undefined && seq > anchor.seq && seq < anchor.closedUntil) {
          return broken(
            here.file,
            here.line,
            `entry #${seq} was added while no authsome server was running (${anchor.source} says the log ` +
              `ended at entry #${anchor.seq})`,
          );
        }
      }
      entries++;
      nextSeq = seq + 1;
      previous = here;
    }
  }

  const lastSeq = nextSeq === undefined ? 0 : nextSeq - 1;
  for (const anchor of anchors) {
    if (anchor.seq > lastSeq) {
      return broken(
        last.file,
        last.lines + 1,
        `the log ends at entry #${lastSeq}, but ${anchor.source} recorded entry #${anchor.seq} (its end was cut off)`,
      );
    }
    if (firstSeq !== undefined && anchor.oldest !== undefined && firstSeq > anchor.oldest) {
      return broken(
        firstAt.file,
        firstAt.line,
        `the log starts at entry #${firstSeq}, but ${anchor.source} says it keeps the entries from ` +
          `#${anchor.oldest} on (its start, or the rotated file, was removed)`,
      );
    }
    if (firstSeq !== undefined && anchor.seq > 0 && anchor.seq < firstSeq) {
      return broken(
        firstAt.file,
        firstAt.line,
        `the log starts at entry #${firstSeq}, after entry #${anchor.seq} that ${anchor.source} recorded ` +
          '(the log was replaced)',
      );
    }
  }
  return { intact: true, entries, unchained, torn };
}

/** Reads audit.log.1 (when there is one) and audit.log, oldest first, and verifies them as one chain. */
export async function verifyAuditFiles(path: string, anchors: AuditAnchor[]): Promise<AuditVerification> {
  const files: AuditFileText[] = [];
  for (const file of [`${path}.1`, path]) {
    try {
      files.push({ name: file, text: await readFile(file, 'utf8') });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return verifyAuditChain(files, anchors);
}

/**
 * Where the chain stands after these lines (the end of a file): the last line's hash, and its position, counted
 * from the newest chained line (torn lines after it took a position each). Seq 0 when no line is chained yet, so
 * the next line starts the chain from the last line of an older version; undefined for no lines at all.
 */
export function findAuditHead(lines: string[]): AuditHead | undefined {
  if (lines.length === 0) return undefined;
  const hash = hashAuditLine(lines.at(-1)!);
  for (let i = lines.length - 1; i >= 0; i--) {
    const fields = parseChainFields(lines[i]!);
    if (fields === 'torn') continue;
    if (fields === 'unchained') break;
    return { seq: fields.seq + (lines.length - 1 - i), hash };
  }
  return { seq: 0, hash };
}

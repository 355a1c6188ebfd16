// The audit log: JSON lines with ts/event and only the named safe fields, query strings cut, 0600, a reader
// that returns the newest entries last from the file's tail and survives a torn last line, and rotation at a size.
import fc from 'fast-check';
import { describe, it, expect, beforeEach, afterEach, vi } from 'vitest';
import { appendFileSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import {
  buildAuditEntry,
  createAuditLog,
  serializeAuditFields,
  type AuditEntry,
  type AuditFields,
} from '../../src/audit.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let tmp: TempDir;
let path: string;
beforeEach(async () => {
  tmp = await makeTempDir('audit');
  path = join(tmp.path, 'audit.log');
});
afterEach(() => tmp.cleanup());

const readLines = () => readFileSync(path, 'utf8').split('\n');

describe('buildAuditEntry', () => {
  const at = new Date('2025-03-04T05:06:07.089Z');

  it('has ts (ISO-8601) and event first, then the given fields', () => {
    const entry = buildAuditEntry(
      'inject',
      {
        provider: 'openai',
        connection: 'default',
        method: 'POST',
        host: 'api.openai.com',
        path: '/v1/chat',
        status: 200,
        ms: 12.5,
        run: 'r1',
      },
      at,
    );
    expect(entry).toEqual({
      ts: '2025-03-04T05:06:07.089Z',
      event: 'inject',
      provider: 'openai',
      connection: 'default',
      run: 'r1',
      method: 'POST',
      host: 'api.openai.com',
      path: '/v1/chat',
      status: 200,
      ms: 12.5,
    });
    expect(Object.keys(entry).slice(0, 2)).toEqual(['ts', 'event']);
    expect(buildAuditEntry('lock', undefined, at)).toEqual({ ts: '2025-03-04T05:06:07.089Z', event: 'lock' });
  });

  it('keeps only the named fields: anything else a caller slips in is dropped', () => {
    const sneaky = {
      provider: 'openai',
      api_key: 'sk-secret',
      authorization: 'Bearer sk-secret',
      headers: { a: 1 },
      query: 'k=v',
    };
    const entry = buildAuditEntry('login', sneaky as unknown as AuditFields, at);
    expect(entry).toEqual({ ts: at.toISOString(), event: 'login', provider: 'openai' });
    expect(JSON.stringify(entry)).not.toContain('sk-secret');
  });

  it('cuts the query string off a path', () => {
    expect(buildAuditEntry('inject', { path: '/v1/models?api_key=sk-secret&x=1' }, at).path).toBe('/v1/models');
    expect(buildAuditEntry('inject', { path: '/?token=abc' }, at).path).toBe('/');
    expect(buildAuditEntry('inject', { path: '?only=query' }, at).path).toBe('');
    expect(buildAuditEntry('inject', { path: '/plain/path' }, at).path).toBe('/plain/path');
  });

  it('drops undefined, null and non-finite numbers; stringifies and bounds text fields', () => {
    const entry = buildAuditEntry(
      'no_match',
      {
        provider: undefined,
        connection: null as unknown as string,
        status: Number.NaN,
        ms: Infinity,
        host: 5 as unknown as string,
        reason: 'x'.repeat(2000),
      },
      at,
    );
    expect(entry).toEqual({ ts: at.toISOString(), event: 'no_match', host: '5', reason: 'x'.repeat(512) });
    expect(buildAuditEntry('inject', { status: '200' as unknown as number }, at).status).toBeUndefined();
  });
});

describe('serializeAuditFields', () => {
  // Any UTF-16 code unit, lone surrogates included: the fields come from agents' requests (paths) and from names.
  const text = fc.oneof(
    fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 24 }),
    fc.string({ unit: 'grapheme', maxLength: 12 }),
    fc.constantFrom('openai', '/v1/models', 'a"b', 'a\\b', '\u2028', '\ud800', '\udc00x', '\x7f', '\x00'),
  );
  const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-0, 0.1, 1e21, 1e-7, 123.4));
  const fields = fc.record(
    {
      provider: text,
      connection: text,
      run: text,
      program: text,
      method: text,
      host: text,
      path: text,
      status: number,
      ms: number,
      reason: text,
    },
    { requiredKeys: [] },
  );

  it('is JSON.stringify of the entry without its closing brace, for any fields', () => {
    fc.assert(
      fc.property(
        fields,
        fc.constantFrom('inject', 'denied', 'login'),
        fc.date({ noInvalidDate: true }),
        (f, event, at) => {
          const entry = buildAuditEntry(event as AuditEntry['event'], f as AuditFields, at);
          expect(`${serializeAuditFields(entry)}}`).toBe(JSON.stringify(entry));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('stays JSON.stringify of each entry when lines share some fields with the one before and not others', () => {
    // The serializer reuses what it wrote for the previous line's event..host and timestamp: runs of entries drawn
    // from a few values make it reuse, rebuild and reuse again in every order.
    const few = <T>(...values: T[]) => fc.constantFrom(...values);
    const sharedFields = fc.record(
      {
        provider: few('openai', 'a"b', '\ud800'),
        connection: few('default', 'work'),
        run: few('r-1', 'r-2'),
        program: few('python3', 'node'),
        method: few('GET', 'POST'),
        host: few('api.openai.com', 'h\\x'),
        path: text,
        status: number,
        ms: number,
        reason: few('plain_http', '\u2028'),
      },
      { requiredKeys: [] },
    );
    const at = few(new Date(0), new Date(1_700_000_000_123), new Date(1_700_000_000_124));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(sharedFields, few('inject', 'denied'), at), { minLength: 2, maxLength: 12 }),
        (run) => {
          for (const [f, event, when] of run) {
            const entry = buildAuditEntry(event as AuditEntry['event'], f as AuditFields, when);
            expect(`${serializeAuditFields(entry)}}`).toBe(JSON.stringify(entry));
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('entries made without a date carry the time they were made', () => {
    const before = Date.now();
    const ts = Date.parse(buildAuditEntry('lock').ts);
    expect(ts).toBeGreaterThanOrEqual(before);
    expect(ts).toBeLessThanOrEqual(Date.now());
  });
});

describe('createAuditLog', () => {
  it('appends one JSON object per line, in order, to a 0600 file', async () => {
    const log = createAuditLog(path);
    log.record('login', { provider: 'openai', connection: 'default' });
    log.record('export', { provider: 'openai', connection: 'default' });
    log.record('inject', { method: 'GET', host: 'api.openai.com', path: '/v1/models?key=sk-x', status: 200, ms: 3 });
    await log.flush();
    const lines = readLines();
    expect(lines.at(-1)).toBe('');
    const entries = lines.filter(Boolean).map((l) => JSON.parse(l) as AuditEntry);
    expect(entries.map((e) => e.event)).toEqual(['login', 'export', 'inject']);
    for (const e of entries) expect(new Date(e.ts).toISOString()).toBe(e.ts);
    expect(entries[2]!.path).toBe('/v1/models');
    expect(readFileSync(path, 'utf8')).not.toContain('sk-x');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('keeps the order of many records made at once', async () => {
    const log = createAuditLog(path);
    for (let i = 0; i < 100; i++) log.record('inject', { status: i });
    await log.flush();
    expect(
      readLines()
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as AuditEntry).status),
    ).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('appends to an existing log rather than replacing it', async () => {
    writeFileSync(path, `${JSON.stringify({ ts: '2024-01-01T00:00:00.000Z', event: 'login' })}\n`, { mode: 0o600 });
    const log = createAuditLog(path);
    log.record('logout');
    expect((await log.readRecent(10)).map((e) => e.event)).toEqual(['login', 'logout']);
  });

  it('subscribers see every entry until they unsubscribe', async () => {
    const log = createAuditLog(path);
    const seen: string[] = [];
    const unsubscribe = log.subscribe((e) => seen.push(e.event));
    log.record('lock');
    log.record('unlock');
    unsubscribe();
    log.record('reveal');
    await log.flush();
    expect(seen).toEqual(['lock', 'unlock']);
  });
});

describe('readRecent', () => {
  it('returns at most the last N entries, newest last, after pending writes', async () => {
    const log = createAuditLog(path);
    for (let i = 0; i < 10; i++) log.record('inject', { status: i });
    const recent = await log.readRecent(3);
    expect(recent.map((e) => e.status)).toEqual([7, 8, 9]);
    expect((await log.readRecent(100)).map((e) => e.status)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('a missing log reads as empty', async () => {
    expect(await createAuditLog(path).readRecent(5)).toEqual([]);
  });

  it('a limit of 0 returns nothing', async () => {
    const log = createAuditLog(path);
    log.record('login');
    expect(await log.readRecent(0)).toEqual([]);
  });

  it('skips a torn last line and still returns the N newest complete entries', async () => {
    const log = createAuditLog(path);
    for (let i = 0; i < 5; i++) log.record('inject', { status: i });
    await log.flush();
    appendFileSync(path, '{"ts":"2025-01-01T00:00:00.000Z","event":"inj');
    expect((await log.readRecent(2)).map((e) => e.status)).toEqual([3, 4]);
    expect((await log.readRecent(10)).map((e) => e.status)).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('readRecent reads the tail, not the whole file', () => {
  it('a 3 GiB log (sparse) answers with its last entries after reading a few blocks from the end', async () => {
    writeFileSync(path, '', { mode: 0o600 });
    truncateSync(path, 3 * 1024 ** 3);
    const entry = { ts: '2025-01-01T00:00:00.000Z', event: 'inject' };
    const lines = Array.from({ length: 20 }, (_, i) => JSON.stringify({ ...entry, status: i }));
    appendFileSync(path, `\n${lines.join('\n')}\n`);
    // FileHandle is not exported; its prototype is reachable from any handle.
    const probe = await open(path, 'r');
    const proto = Object.getPrototypeOf(probe) as { read: (...args: unknown[]) => Promise<unknown> };
    await probe.close();
    const read = vi.spyOn(proto, 'read');
    try {
      const recent = await createAuditLog(path).readRecent(5);
      expect(recent.map((e) => e.status)).toEqual([15, 16, 17, 18, 19]);
      const requested = read.mock.calls.reduce((sum, args) => sum + Number(args[2]), 0);
      expect(read).toHaveBeenCalled();
      expect(requested).toBeLessThanOrEqual(128 * 1024);
    } finally {
      read.mockRestore();
    }
  });

  it('entries split across block boundaries, multi-byte text included, come back whole and in order', async () => {
    const log = createAuditLog(path);
    for (let i = 0; i < 4000; i++) log.record('no_match', { status: i, reason: `é🔑 ${'x'.repeat(i % 37)}` });
    await log.flush();
    expect(statSync(path).size).toBeGreaterThan(3 * 64 * 1024);
    const recent = await log.readRecent(3500);
    expect(recent.map((e) => e.status)).toEqual(Array.from({ length: 3500 }, (_, i) => i + 500));
    expect(recent.every((e) => e.reason!.startsWith('é🔑 '))).toBe(true);
    expect((await log.readRecent(10_000)).map((e) => e.status)).toEqual(Array.from({ length: 4000 }, (_, i) => i));
  });

  it('a file without any newline is one (torn) line: skipped', async () => {
    writeFileSync(path, '{"ts":"2025-01-01T00:00:00.000Z","event":"lo', { mode: 0o600 });
    expect(await createAuditLog(path).readRecent(5)).toEqual([]);
  });
});

describe('rotation', () => {
  const rotated = () => `${path}.1`;
  const statuses = (file: string) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as AuditEntry).status!);

  it(
    'before a write would pass maxBytes, audit.log becomes audit.log.1: newest entries in audit.log, two ' +
      'files, both 0600',
    async () => {
      const log = createAuditLog(path, { maxBytes: 2048 });
      for (let i = 0; i < 100; i++) {
        log.record('inject', { status: i });
        await log.flush();
      }
      expect(readdirSync(tmp.path).sort()).toEqual(['audit.log', 'audit.log.1']);
      expect(statSync(path).size).toBeLessThanOrEqual(2048);
      expect(statSync(rotated()).size).toBeLessThanOrEqual(2048);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(rotated()).mode & 0o777).toBe(0o600);
      const current = statuses(path);
      const previous = statuses(rotated());
      expect(current.at(-1)).toBe(99);
      // The two files are consecutive: nothing lost or repeated at the cut.
      expect([...previous, ...current]).toEqual(
        Array.from({ length: previous.length + current.length }, (_, i) => 100 - previous.length - current.length + i),
      );
      // The reader continues into audit.log.1 when audit.log alone is short.
      const wanted = current.length + 5;
      expect((await log.readRecent(wanted)).map((e) => e.status)).toEqual(
        Array.from({ length: wanted }, (_, i) => 100 - wanted + i),
      );
      await log.close();
    },
  );

  it('a log an earlier run left over the limit is rotated by the first write', async () => {
    writeFileSync(path, `${JSON.stringify({ ts: '2024-01-01T00:00:00.000Z', event: 'login' })}\n`.repeat(100), {
      mode: 0o600,
    });
    const log = createAuditLog(path, { maxBytes: 1024 });
    log.record('logout');
    await log.close();
    expect(
      readFileSync(path, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as AuditEntry).event),
    ).toEqual(['logout']);
    expect(readFileSync(rotated(), 'utf8').split('\n').filter(Boolean)).toHaveLength(100);
  });

  it('a thousand lines recorded at once are written in bounded batches: rotated once, none lost', async () => {
    const log = createAuditLog(path, { maxBytes: 96 * 1024 });
    for (let i = 0; i < 1000; i++) log.record('inject', { status: i, run: `p${i % 10}` });
    await log.close();
    expect(readdirSync(tmp.path).sort()).toEqual(['audit.log', 'audit.log.1']);
    expect(statSync(path).size).toBeLessThanOrEqual(96 * 1024);
    expect([...statuses(rotated()), ...statuses(path)]).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('concurrent record() and readRecent() across a rotation: every entry is kept once, in order', async () => {
    // 1000 chained lines are about 135 KiB: one rotation, so both files together hold every entry.
    const log = createAuditLog(path, { maxBytes: 96 * 1024 });
    let next = 0;
    const reads: Promise<AuditEntry[]>[] = [];
    const producers = Array.from({ length: 10 }, async (_, p) => {
      for (let i = 0; i < 100; i++) {
        log.record('inject', { status: next++, run: `p${p}` });
        if (i % 10 === 0) reads.push(log.readRecent(20));
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    await Promise.all(producers);
    await log.close();
    expect(readdirSync(tmp.path).sort()).toEqual(['audit.log', 'audit.log.1']);
    expect([...statuses(rotated()), ...statuses(path)]).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    // Every read saw a contiguous run of entries, whichever side of the rotation it fell on.
    for (const entries of await Promise.all(reads)) {
      const seen = entries.map((e) => e.status!);
      expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => seen[0]! + i));
    }
  });
});

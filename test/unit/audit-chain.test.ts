// The audit log's hash chain over real files: the writer links every line to the one before (across restarts and
// rotation), and verification finds an edited, deleted, moved or cut-off line, and a whole fake chain, at the
// line where it happened; the checkpoint lives in a real vault and is never moved back by a broken log.
import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { appendFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAuditLog, type AuditLog } from '../../src/audit.js';
import {
  AUDIT_CHECKPOINT_ID,
  AUDIT_GENESIS,
  hashAuditLine,
  verifyAuditChain,
  verifyAuditFiles,
  type AuditCheckpoint,
} from '../../src/audit-chain.js';
import { createAuditCheckpointer, type AuditCheckpointer } from '../../src/audit-checkpoint.js';
import { createVault, type Vault } from '../../src/vault/vault.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';

let tmp: TempDir;
let path: string;
let vault: Vault;
const open: { log?: AuditLog; chain?: AuditCheckpointer }[] = [];

beforeEach(async () => {
  tmp = await makeTempDir('audit-chain');
  path = join(tmp.path, 'audit.log');
  vault = createVault({
    paths: {
      vault: join(tmp.path, 'vault.json'),
      vaultBackup: join(tmp.path, 'vault.json.bak'),
      masterKey: join(tmp.path, 'master.key'),
    },
    kdf: { memory_kib: 1024, iterations: 1 },
  });
  await vault.open();
});
afterEach(async () => {
  for (const { log, chain } of open.splice(0)) {
    await chain?.close();
    await log?.close();
  }
  await tmp.cleanup();
});

/** A writer and its checkpointer, as the runtime wires them; the timer is out of the way unless a test wants it. */
function startLog(options: { maxBytes?: number; intervalMs?: number } = {}) {
  const log = createAuditLog(path, { maxBytes: options.maxBytes });
  const chain = createAuditCheckpointer({
    audit: log,
    path,
    store: vault,
    intervalMs: options.intervalMs ?? 3_600_000,
  });
  open.push({ log, chain });
  return { log, chain };
}

async function writeEntries(log: AuditLog, count: number, from = 0): Promise<void> {
  for (let i = from; i < from + count; i++)
    log.record('inject', {
      provider: 'openai',
      method: 'GET',
      host: 'api.openai.com',
      path: `/v1/r${i}`,
      status: 200,
      ms: i,
    });
  await log.flush();
}

const readLines = (file = path) => readFileSync(file, 'utf8').split('\n').filter(Boolean);
const writeLines = (lines: string[], file = path) => writeFileSync(file, lines.map((l) => `${l}\n`).join(''));
const checkpoint = () => vault.get<AuditCheckpoint>(AUDIT_CHECKPOINT_ID);

/** Verification as `log --verify` does it after a restart: the vault's checkpoint, nothing held in memory. */
async function verifyAgainstVault() {
  const saved = checkpoint();
  return verifyAuditFiles(path, saved ? [{ ...saved, source: 'the vault checkpoint' }] : []);
}

describe('the writer links every line to the one before', () => {
  it(
    'the first line of a fresh log chains from the genesis value, each next one from the previous line’s ' + 'bytes',
    async () => {
      const { log } = startLog();
      await writeEntries(log, 5);
      const lines = readLines();
      const parsed = lines.map((l) => JSON.parse(l) as { seq: number; prev: string; ts: string; event: string });
      expect(parsed.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
      expect(parsed[0]!.prev).toBe(AUDIT_GENESIS);
      for (let i = 1; i < lines.length; i++) expect(parsed[i]!.prev).toBe(hashAuditLine(lines[i - 1]!));
      // The fields a person reads stay first.
      expect(Object.keys(parsed[0]!).slice(0, 2)).toEqual(['ts', 'event']);
      expect(log.head()).toEqual({ seq: 5, hash: hashAuditLine(lines[4]!) });
    },
  );

  it('a new writer (a restart) continues the chain where the file ends', async () => {
    const first = startLog();
    await writeEntries(first.log, 3);
    await first.log.close();
    const second = startLog();
    await writeEntries(second.log, 2, 3);
    const lines = readLines();
    expect((JSON.parse(lines[3]!) as { seq: number; prev: string }).seq).toBe(4);
    expect((JSON.parse(lines[3]!) as { prev: string }).prev).toBe(hashAuditLine(lines[2]!));
    expect(await verifyAuditFiles(path, [])).toEqual({ intact: true, entries: 5, unchained: 0, torn: 0 });
  });

  it(
    'rotation keeps the chain: audit.log starts from the ' + 'last hash of audit.log.1, and both verify as one',
    async () => {
      const { log, chain } = startLog({ maxBytes: 2048 });
      for (let i = 0; i < 40; i++) {
        log.record('inject', { status: i });
        await log.flush();
      }
      const rotated = readLines(`${path}.1`);
      const current = readLines();
      expect((JSON.parse(current[0]!) as { prev: string }).prev).toBe(hashAuditLine(rotated.at(-1)!));
      await chain.checkpointNow();
      expect(await verifyAgainstVault()).toEqual({
        intact: true,
        entries: rotated.length + current.length,
        unchained: 0,
        torn: 0,
      });
      // An edit in the rotated file is found there.
      rotated[2] = rotated[2]!.replace('"status":', '"status":1');
      writeLines(rotated, `${path}.1`);
      expect(await verifyAgainstVault()).toMatchObject({ intact: false, file: `${path}.1`, line: 3 });
    },
  );

  it(
    'lines of an older version (no chain) are reported as unchained, and the chain starts from the last of ' + 'them',
    async () => {
      const old = [
        { ts: '2025-01-01T00:00:00.000Z', event: 'login', provider: 'openai' },
        { ts: '2025-01-01T00:00:01.000Z', event: 'export' },
      ].map((e) => JSON.stringify(e));
      writeLines(old);
      const { log } = startLog();
      await writeEntries(log, 3);
      const lines = readLines();
      expect(JSON.parse(lines[2]!)).toMatchObject({ seq: 1, prev: hashAuditLine(old[1]!) });
      expect(await verifyAuditFiles(path, [])).toEqual({ intact: true, entries: 3, unchained: 2, torn: 0 });
    },
  );

  it(
    'a line torn by a crash stays covered: the next writer ' + 'chains from its bytes and verification counts it',
    async () => {
      const first = startLog();
      await writeEntries(first.log, 3);
      await first.log.close();
      appendFileSync(path, '{"ts":"2025-01-01T00:00:00.000Z","event":"inj');
      const second = startLog();
      await writeEntries(second.log, 2);
      const lines = readLines();
      expect(JSON.parse(lines[4]!)).toMatchObject({ seq: 5, prev: hashAuditLine(lines[3]!) });
      expect(await verifyAuditFiles(path, [])).toEqual({ intact: true, entries: 6, unchained: 0, torn: 1 });
    },
  );
});

describe('verification finds the first wrong line', () => {
  /** Ten entries, checkpointed in the vault, then a second batch after the checkpoint. */
  async function prepare(): Promise<string[]> {
    const { log, chain } = startLog();
    await writeEntries(log, 10);
    await chain.checkpointNow();
    expect(checkpoint()).toMatchObject({ seq: 10 });
    await writeEntries(log, 2, 10);
    await log.close();
    const lines = readLines();
    expect(lines).toHaveLength(12);
    expect(await verifyAgainstVault()).toEqual({ intact: true, entries: 12, unchained: 0, torn: 0 });
    return lines;
  }

  it('an edited line: that line', async () => {
    const lines = await prepare();
    lines[4] = lines[4]!.replace('"status":200', '"status":403');
    writeLines(lines);
    const found = await verifyAgainstVault();
    expect(found).toMatchObject({ intact: false, file: path, line: 5 });
    expect(found.intact || found.reason).toMatch(/changed after it was written/);
  });

  it('a deleted line: where it was', async () => {
    const lines = await prepare();
    lines.splice(6, 1);
    writeLines(lines);
    const found = await verifyAgainstVault();
    expect(found).toMatchObject({ intact: false, line: 7 });
    expect(found.intact || found.reason).toMatch(/expected entry #7 here but found #8/);
  });

  it('two lines swapped: the first of them', async () => {
    const lines = await prepare();
    [lines[2], lines[3]] = [lines[3]!, lines[2]!];
    writeLines(lines);
    expect(await verifyAgainstVault()).toMatchObject({
      intact: false,
      line: 3,
      reason: expect.stringMatching(/expected entry #3 here but found #4/),
    });
  });

  it('the tail cut off past the checkpoint: the first missing line', async () => {
    const lines = await prepare();
    writeLines(lines.slice(0, 7));
    expect(await verifyAgainstVault()).toMatchObject({
      intact: false,
      line: 8,
      reason: expect.stringMatching(
        /ends at entry #7, but the vault checkpoint recorded entry #10 \(its end was cut off\)/,
      ),
    });
  });

  it('the whole file replaced by a self-consistent fake chain: the line at the checkpoint', async () => {
    await prepare();
    // The fake is a real chain of the same length, written by authsome's own writer elsewhere.
    const fakePath = join(tmp.path, 'fake.log');
    const fake = createAuditLog(fakePath);
    for (let i = 0; i < 12; i++) fake.record('lock');
    await fake.close();
    writeFileSync(path, readFileSync(fakePath));
    expect(await verifyAuditFiles(path, [])).toMatchObject({ intact: true, entries: 12 });
    expect(await verifyAgainstVault()).toMatchObject({
      intact: false,
      line: 10,
      reason: expect.stringMatching(/entry #10 does not match the checkpoint kept by the vault checkpoint/),
    });
  });

  it('the start of the log cut off (the newest lines kept, all still linked): its first line', async () => {
    await prepare();
    writeLines(readLines().slice(3));
    expect(await verifyAgainstVault()).toMatchObject({
      intact: false,
      line: 1,
      reason: expect.stringMatching(
        /the log starts at entry #4, but the vault checkpoint says it keeps the entries from #1 on/,
      ),
    });
  });

  it('a log that starts after the checkpoint (replaced by a later part): its first line', async () => {
    await prepare();
    writeLines(readLines().slice(10));
    const found = await verifyAuditFiles(path, [
      { ...checkpoint()!, oldest: undefined, source: 'the vault checkpoint' },
    ]);
    expect(found).toMatchObject({
      intact: false,
      line: 1,
      reason: expect.stringMatching(/starts at entry #11, after entry #10/),
    });
  });

  it(
    'a long log is checked a slice at a time: the event ' + 'loop turns meanwhile, so the proxy keeps serving',
    async () => {
      const { log } = startLog();
      await writeEntries(log, 10_000);
      const text = readFileSync(path, 'utf8');
      let turns = 0;
      let done = false;
      const spin = () => {
        if (done) return;
        turns++;
        setImmediate(spin);
      };
      setImmediate(spin);
      const found = await verifyAuditChain([{ name: path, text }], []);
      done = true;
      expect(found).toEqual({ intact: true, entries: 10_000, unchained: 0, torn: 0 });
      expect(turns).toBeGreaterThanOrEqual(4);
    },
  );

  it('a line without a hash link inside the chain: that line', async () => {
    const lines = await prepare();
    lines.splice(5, 0, JSON.stringify({ ts: '2025-01-01T00:00:00.000Z', event: 'login' }));
    writeLines(lines);
    expect(await verifyAgainstVault()).toMatchObject({
      intact: false,
      line: 6,
      reason: expect.stringMatching(/no hash link/),
    });
  });
});

describe('rotation and the checkpoint', () => {
  /** Writes entries one batch at a time until audit.log has been rotated `times` times. */
  async function writeUntilRotated(log: AuditLog, times: number): Promise<void> {
    let rotations = 0;
    let lastOldest = log.oldest();
    for (let i = 0; rotations < times; i++) {
      expect(i).toBeLessThan(1000);
      log.record('inject', { status: i });
      await log.flush();
      if (log.oldest() !== lastOldest && lastOldest !== undefined) rotations++;
      lastOldest = log.oldest();
    }
  }

  it(
    'each rotation first tells the vault where the files start: the vault alone verifies them, whenever the ' +
      'server stops',
    async () => {
      const { log } = startLog({ maxBytes: 2048 });
      await writeUntilRotated(log, 3);
      const first = JSON.parse(readLines(`${path}.1`)[0]!) as { seq: number };
      expect(checkpoint()).toMatchObject({ oldest: first.seq });
      expect(await verifyAgainstVault()).toMatchObject({ intact: true });
    },
  );

  it('audit.log.1 deleted: the first line of audit.log, where the kept entries should have started', async () => {
    const { log, chain } = startLog({ maxBytes: 2048 });
    await writeUntilRotated(log, 2);
    await chain.checkpointNow();
    const rotatedFirst = (JSON.parse(readLines(`${path}.1`)[0]!) as { seq: number }).seq;
    const currentFirst = (JSON.parse(readLines()[0]!) as { seq: number }).seq;
    await log.whileQuiet(async () => rmSync(`${path}.1`));
    const report = await chain.verify();
    expect(report.verification).toMatchObject({
      intact: false,
      file: path,
      line: 1,
      reason: expect.stringContaining(
        `the log starts at entry #${currentFirst}, but the vault checkpoint says it keeps the entries from ` +
          `#${rotatedFirst} on`,
      ),
    });
  });

  it('a rotation faked by renaming audit.log over audit.log.1 (the older entries gone): the first line', async () => {
    const { log, chain } = startLog({ maxBytes: 2048 });
    await writeUntilRotated(log, 1);
    await chain.checkpointNow();
    const current = readFileSync(path);
    await log.whileQuiet(async () => {
      writeFileSync(`${path}.1`, current);
      writeFileSync(path, '');
    });
    expect((await chain.verify()).verification).toMatchObject({
      intact: false,
      file: `${path}.1`,
      line: 1,
      reason: expect.stringMatching(/its start, or the rotated file, was removed/),
    });
  });

  it(
    'while the vault is locked the log is not rotated (the vault could not learn where it starts); it is ' +
      'once unlocked',
    async () => {
      await vault.setPassphrase('a passphrase for the audit chain test');
      const { log, chain } = startLog({ maxBytes: 2048 });
      await writeEntries(log, 5);
      await chain.checkpointNow();
      vault.lock();
      await writeEntries(log, 40, 5);
      expect(readFileSync(path).length).toBeGreaterThan(2048);
      expect(() => readFileSync(`${path}.1`)).toThrow(/ENOENT/);
      await vault.unlock('a passphrase for the audit chain test');
      await writeEntries(log, 1, 45);
      expect(readLines()).toHaveLength(1);
      expect(readLines(`${path}.1`)).toHaveLength(45);
      expect(await verifyAgainstVault()).toMatchObject({ intact: true, entries: 46 });
    },
  );
});

describe('the checkpoint in the vault', () => {
  it('is not written per batch: only by the timer or checkpointNow, and then with the head on disk', async () => {
    const { log, chain } = startLog();
    let puts = 0;
    const put = vault.put.bind(vault);
    vault.put = (id, value) => {
      puts++;
      return put(id, value);
    };
    for (let i = 0; i < 50; i++) await writeEntries(log, 2, i * 2);
    expect(puts).toBe(0);
    await chain.checkpointNow();
    expect(puts).toBe(1);
    expect(checkpoint()).toMatchObject({ seq: 100, hash: hashAuditLine(readLines().at(-1)!) });
    // Nothing new: nothing written.
    await chain.checkpointNow();
    expect(puts).toBe(1);
  });

  it('the timer saves the head that moved', async () => {
    const { log } = startLog({ intervalMs: 25 });
    await writeEntries(log, 3);
    await expect.poll(() => checkpoint()?.seq).toBe(3);
  });

  it('is saved at close (shutdown), marked as the end of the log', async () => {
    const { log, chain } = startLog();
    await writeEntries(log, 4);
    await chain.close();
    expect(checkpoint()).toMatchObject({ seq: 4, closed: true });
  });

  it('a clean restart: the next server continues after the closed checkpoint, and it moves on', async () => {
    const first = startLog();
    await writeEntries(first.log, 4);
    await first.chain.close();
    const second = startLog();
    await writeEntries(second.log, 3, 4);
    expect(await second.chain.verify()).toEqual({
      verification: { intact: true, entries: 7, unchained: 0, torn: 0 },
      checkpoint: 'compared',
    });
    expect(checkpoint()).toMatchObject({ seq: 7 });
    expect(checkpoint()!.closed).toBeUndefined();
  });

  it(
    'entries forged while no server ran (appended after a clean shutdown, every link right): the first of ' + 'them',
    async () => {
      const first = startLog();
      await writeEntries(first.log, 5);
      await first.chain.close();
      // The agent continues the chain with authsome's own writer, without the vault.
      const forger = createAuditLog(path);
      forger.record('logout', { provider: 'openai' });
      forger.record('lock');
      await forger.close();
      expect(await verifyAuditFiles(path, [])).toMatchObject({ intact: true, entries: 7 });
      const second = startLog();
      await writeEntries(second.log, 3, 5);
      const report = await second.chain.verify();
      expect(report.verification).toMatchObject({
        intact: false,
        line: 6,
        reason:
          'entry #6 was added while no authsome server was running (the vault checkpoint says the log ' +
          'ended at entry #5)',
      });
      // The checkpoint stays as the evidence.
      expect(checkpoint()).toMatchObject({ seq: 5, closed: true });
    },
  );

  it(
    'a log cut while the server was down is not hidden ' + 'by the next checkpoint: the old one stays as evidence',
    async () => {
      const first = startLog();
      await writeEntries(first.log, 10);
      await first.chain.close();
      await first.log.close();
      writeLines(readLines().slice(0, 4));
      const second = startLog();
      await writeEntries(second.log, 20);
      await second.chain.checkpointNow();
      expect(checkpoint()).toMatchObject({ seq: 10 });
      const report = await second.chain.verify();
      expect(report.checkpoint).toBe('compared');
      expect(report.verification).toMatchObject({
        intact: false,
        line: 10,
        reason: expect.stringMatching(/does not match the checkpoint kept by the vault checkpoint/),
      });
    },
  );

  it('while the server runs, a cut after the last checkpoint is found too (the writer’s own head)', async () => {
    const { log, chain } = startLog();
    await writeEntries(log, 5);
    await chain.checkpointNow();
    await writeEntries(log, 3, 5);
    await log.whileQuiet(async () => writeLines(readLines().slice(0, 6)));
    const report = await chain.verify();
    expect(report.verification).toMatchObject({
      intact: false,
      line: 7,
      reason: expect.stringMatching(/recorded entry #8/),
    });
  });

  it('verify() on an untouched log: intact, compared with the vault, which now holds the head', async () => {
    const { log, chain } = startLog();
    await writeEntries(log, 7);
    expect(await chain.verify()).toEqual({
      verification: { intact: true, entries: 7, unchained: 0, torn: 0 },
      checkpoint: 'compared',
    });
    expect(checkpoint()).toMatchObject({ seq: 7 });
  });
});

// `authsome log --verify` end to end: the built CLI and its auto-started server after a real `authsome run` whose
// child sends requests through the proxy; then the log is tampered with as a hostile agent could (it can write
// audit.log, not the vault), while the server runs, across a restart and while it is stopped, and each change is
// found at its line.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditLog } from '../../src/audit.js';
import { makeTempHome, runCli, type TempHome } from '../helpers/cli.js';
import { createTestCa } from '../helpers/test-ca.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const KEY = 'sk-AUDITCANARY-0123456789abcdefghijklmnop';
const REQUESTS = 5;
// An unmodified agent: Node's built-in fetch, several requests to the provider, the placeholder as its key.
const AGENT = `(async () => {
  for (let i = 0; i < ${REQUESTS}; i++) {
    const res = await fetch('https://api.openai.com/v1/models?page=' + i, \
{ headers: { authorization: 'Bearer ' + process.env.OPENAI_API_KEY } });
    await res.text();
    if (res.status !== 200) process.exit(1);
  }
})();`;

describe('authsome log --verify', () => {
  let t: TempHome;
  let upstream: Upstream;
  let certDir: string;
  let env: NodeJS.ProcessEnv;
  let auditPath: string;
  const cli = (args: string[], input?: string) => runCli(t.home, args, { env, input, timeoutMs: 60_000 });
  const readLines = () => readFileSync(auditPath, 'utf8').split('\n').filter(Boolean);
  const writeLines = (lines: string[]) => writeFileSync(auditPath, lines.map((l) => `${l}\n`).join(''));

  beforeAll(async () => {
    t = makeTempHome();
    auditPath = join(t.home, 'audit.log');
    const ca = createTestCa(['api.openai.com']);
    certDir = mkdtempSync(join(tmpdir(), 'authsome-audit-ca-'));
    const { caPath } = await ca.writeFiles(certDir);
    upstream = await startUpstream({ cert: ca.cert, key: ca.key });
    env = { NODE_EXTRA_CA_CERTS: caPath, AUTHSOME_PROXY_RESOLVE: `api.openai.com:443=127.0.0.1:${upstream.port}` };
    expect((await cli(['login', 'openai'], `${KEY}\n`)).code).toBe(0);
  });
  afterAll(async () => {
    await t.cleanup();
    await upstream.close();
    rmSync(certDir, { recursive: true, force: true });
  });

  it('after a real run with requests: exit 0, every line counted, and no secret in the log', async () => {
    const run = await cli(['run', '--', process.execPath, '-e', AGENT]);
    expect(run.code, run.stderr).toBe(0);
    expect(upstream.requests.filter((r) => r.headers.authorization === `Bearer ${KEY}`)).toHaveLength(REQUESTS);
    const r = await cli(['log', '--verify']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = readLines();
    expect(lines.filter((l) => l.includes('"event":"inject"'))).toHaveLength(REQUESTS);
    expect(r.stdout).toBe(`Audit log verified: ${lines.length} entries, chain intact.\n`);
    expect(readFileSync(auditPath, 'utf8')).not.toContain(KEY);
    const json = JSON.parse((await cli(['log', '--verify', '--json'])).stdout);
    expect(json).toEqual({ v: 1, intact: true, entries: lines.length, unchained: 0, torn: 0, checkpoint: 'compared' });
  });

  /** Tampers with the file, expects `log --verify` to fail at `line`, then puts the original back. */
  async function expectFoundAt(tamper: (lines: string[]) => string[], line: number, reason: RegExp): Promise<void> {
    const original = readFileSync(auditPath);
    writeLines(tamper(readLines()));
    const r = await cli(['log', '--verify']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    const [error, hint] = r.stderr.trim().split('\n');
    expect(error).toMatch(
      new RegExp(`^Error: The audit log is broken at line ${line} of ${auditPath.replace(/[.]/g, '\\.')}: `),
    );
    expect(error).toMatch(reason);
    expect(hint).toMatch(/^Hint: Entries from that line on cannot be trusted/);
    writeFileSync(auditPath, original);
    expect((await cli(['log', '--verify'])).code).toBe(0);
  }

  it('while the server runs: an edited, a deleted and two swapped lines, each at its line', async () => {
    await expectFoundAt(
      (l) => l.map((x, i) => (i === 3 ? x.replace('"status":200', '"status":404') : x)),
      4,
      /changed after it was written/,
    );
    await expectFoundAt((l) => l.filter((_, i) => i !== 2), 3, /expected entry #3 here but found #4/);
    await expectFoundAt(
      (l) => [...l.slice(0, 4), l[5]!, l[4]!, ...l.slice(6)],
      5,
      /expected entry #5 here but found #6/,
    );
    await expectFoundAt((l) => l.slice(0, -2), readLines().length - 1, /its end was cut off/);
  });

  it('across a restart, the vault checkpoint finds a cut tail and a self-consistent fake chain', async () => {
    const count = readLines().length;
    expect((await cli(['daemon', 'stop'])).code).toBe(0);
    const original = readFileSync(auditPath);

    writeLines(readLines().slice(0, count - 2));
    const cut = await cli(['log', '--verify']);
    expect(cut.code).toBe(1);
    expect(cut.stderr).toMatch(
      new RegExp(
        `^Error: The audit log is broken at line ${count - 1} of .*: the log ends at entry #${count - 2}, ` +
          `but the vault checkpoint recorded entry #${count} \\(its end was cut off\\)\\.$`,
        'm',
      ),
    );

    // A fake made by authsome's own writer: every link holds, only the vault's checkpoint tells it apart.
    expect((await cli(['daemon', 'stop'])).code).toBe(0);
    const fakePath = join(t.root, 'fake.log');
    const fake = createAuditLog(fakePath);
    for (let i = 0; i < count + 3; i++) fake.record('lock');
    await fake.close();
    writeFileSync(auditPath, readFileSync(fakePath));
    const faked = await cli(['log', '--verify']);
    expect(faked.code).toBe(1);
    expect(faked.stderr).toMatch(
      new RegExp(
        `^Error: The audit log is broken at line ${count} of .*: entry #${count} does not match the ` +
          'checkpoint kept by the vault checkpoint',
        'm',
      ),
    );

    expect((await cli(['daemon', 'stop'])).code).toBe(0);
    writeFileSync(auditPath, original);
    const restored = await cli(['log', '--verify']);
    expect(restored.code, restored.stderr).toBe(0);
  });

  it(
    'an entry forged while no server runs, every link ' + 'right, is found: the server said where the log ended',
    async () => {
      expect((await cli(['log', '--verify'])).code).toBe(0);
      const count = readLines().length;
      expect((await cli(['daemon', 'stop'])).code).toBe(0);
      const forger = createAuditLog(auditPath);
      forger.record('logout', { provider: 'openai' });
      await forger.close();
      const r = await cli(['log', '--verify']);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `^Error: The audit log is broken at line ${count + 1} of .*: entry #${count + 1} was added while ` +
            `no authsome server was running \\(the vault checkpoint says the log ended at entry ` +
            `#${count}\\)\\.$`,
          'm',
        ),
      );
    },
  );
});

describe('authsome log --verify on a log begun by an older version, and with the vault locked', () => {
  let t: TempHome;
  beforeAll(() => {
    t = makeTempHome();
  });
  afterAll(() => t.cleanup());

  it(
    'older entries are unchained (older version), not tampering; a locked vault verifies the links and says ' + 'so',
    async () => {
      const older = ['login', 'export', 'run_start'].map((event, i) =>
        JSON.stringify({ ts: `2025-01-01T00:00:0${i}.000Z`, event, provider: 'openai' }),
      );
      mkdirSync(t.home, { recursive: true, mode: 0o700 });
      writeFileSync(join(t.home, 'audit.log'), older.map((l) => `${l}\n`).join(''), { mode: 0o600 });
      expect((await runCli(t.home, ['login', 'openai'], { input: `${KEY}\n` })).code).toBe(0);
      const lines = readFileSync(join(t.home, 'audit.log'), 'utf8').split('\n').filter(Boolean);
      expect(lines.slice(0, 3)).toEqual(older);
      const chained = lines.length - older.length;
      expect(chained).toBeGreaterThan(0);
      const r = await runCli(t.home, ['log', '--verify']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(`Audit log verified: ${chained} ${chained === 1 ? 'entry' : 'entries'}, chain intact.\n`);
      expect(r.stderr).toBe('3 entries from before the chain began: unchained (older version).\n');

      const passphrase = 'a passphrase for the audit test';
      expect(
        (await runCli(t.home, ['passphrase', 'set', '--passphrase-stdin'], { input: `${passphrase}\n` })).code,
      ).toBe(0);
      expect((await runCli(t.home, ['lock'])).code).toBe(0);
      const locked = await runCli(t.home, ['log', '--verify']);
      expect(locked.code, locked.stderr).toBe(0);
      expect(locked.stdout).toMatch(/^Audit log verified: \d+ entries, chain intact\.$/m);
      expect(locked.stderr).toMatch(
        /^Warning: The vault could not be read \(locked or damaged\), so the log was not compared with its checkpoint/m,
      );
    },
  );
});

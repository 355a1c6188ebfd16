// `authsome doctor` against a real server: every check passes on a healthy home, including the proxy round
// trip through a real run session and TLS interception with the authsome CA; a broken file makes it fail.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempHome, runCli, type TempHome } from '../../helpers/cli.js';

describe('doctor', () => {
  let t: TempHome;
  beforeAll(async () => {
    t = makeTempHome();
    expect((await runCli(t.home, ['login', 'openai'], { input: 'sk-doctor0123456789abcdefghijklmn\n' })).code).toBe(0);
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it('passes every check, proxy round trip and interception included, and names the client variables', async () => {
    const r = await runCli(t.home, ['doctor']);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^✓ Proxy authentication: a request without the run secret gets 407$/m);
    expect(r.stdout).toMatch(/^✓ Proxy round trip: /m);
    expect(r.stdout).toMatch(
      /^✓ TLS interception: api\.openai\.com is served a leaf certificate signed by the authsome CA/m,
    );
    expect(r.stdout).toMatch(/REQUESTS_CA_BUNDLE/);
    expect(r.stdout).toMatch(/NODE_EXTRA_CA_CERTS/);
    expect(r.stdout).toMatch(/each run's CA is made for it alone/);
    expect(r.stdout).toMatch(/Java \(JVM\)[\s\S]*authsome run --stable-ca/);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('All checks passed.');
    const json = JSON.parse((await runCli(t.home, ['doctor', '--json'])).stdout);
    expect(json).toMatchObject({ v: 1, ok: true });
  });

  it('fails (exit 1) on a file with the wrong mode and on a broken provider file', async () => {
    chmodSync(join(t.home, 'audit.log'), 0o644);
    writeFileSync(join(t.home, 'providers', 'broken.json'), '{');
    const r = await runCli(t.home, ['doctor']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^✗ Permissions: .*audit\.log is 0644 \(want 0600\)/m);
    expect(r.stdout).toMatch(/^✗ Providers: .*broken\.json is ignored: not valid JSON/m);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('2 checks failed.');
  });
});

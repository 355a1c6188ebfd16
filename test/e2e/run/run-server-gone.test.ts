// `run` says when the ground moved: the server stops while the child is still running. The child is not
// disturbed, the warning comes once with the time, and the child's exit code is still run's.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempHome, runCli, spawnCli, type TempHome } from '../../helpers/cli.js';

describe('authsome run when the server goes away', () => {
  let t: TempHome;
  beforeAll(() => {
    t = makeTempHome();
  });
  afterAll(async () => t.cleanup());

  it('warns once on stderr, with the time, and still exits with the child’s code', async () => {
    const marker = join(t.home, 'child-may-exit');
    // The child waits for the test's signal (a file), then exits 5.
    const child =
      `const fs = require('fs'); const t = setInterval(() => { if (fs.existsSync(${JSON.stringify(marker)})) ` +
      '{ clearInterval(t); process.exit(5); } }, 20);';
    const run = spawnCli(t.home, ['run', '--', process.execPath, '-e', child]);
    let stderr = '';
    run.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => run.on('close', (code) => resolve(code)));
    const waitFor = async (predicate: () => boolean, what: string) => {
      const deadline = Date.now() + 20_000;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; stderr so far: ${stderr}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    await waitFor(
      () => existsSync(join(t.home, 'server', 'state.json')) && stderr.includes('No connections in scope'),
      'the run to start',
    );
    expect((await runCli(t.home, ['daemon', 'stop'])).code).toBe(0);
    await waitFor(() => stderr.includes('Warning: The authsome server stopped at'), 'the warning');
    writeFileSync(marker, '');
    expect(await exited).toBe(5);
    expect(stderr).toMatch(/Warning: The authsome server stopped at \d\d:\d\d:\d\d \(or no longer knows this run\)/);
    expect(stderr.split('The authsome server stopped').length - 1).toBe(1);
  });
});

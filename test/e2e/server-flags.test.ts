// The server runs with the memory flags of SERVER_NODE_FLAGS however it starts: started in the background by a
// command, or in the foreground by `npm start` (whose script must carry the same flags).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packagePaths, SERVER_NODE_FLAGS } from '../../src/paths.js';
import { makeTempHome, readServerState, runCli, type TempHome } from '../helpers/cli.js';

describe('the server process', () => {
  let t: TempHome;
  beforeAll(() => {
    t = makeTempHome();
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it('started in the background by a command, runs with the memory flags', async () => {
    expect((await runCli(t.home, ['list'])).code).toBe(0);
    const state = readServerState(t.home)!;
    const argv = readFileSync(`/proc/${state.pid}/cmdline`, 'utf8').split('\0');
    const entry = argv.indexOf(packagePaths.cliEntry);
    expect(entry).toBeGreaterThan(0);
    expect(argv.slice(1, entry)).toEqual([...SERVER_NODE_FLAGS]);
    expect(argv.slice(entry + 1, entry + 2)).toEqual(['serve']);
  });

  it('`npm start` passes the same flags', () => {
    const pkg = JSON.parse(readFileSync(packagePaths.packageJson, 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toBe(`node ${SERVER_NODE_FLAGS.join(' ')} dist/cli/main.js serve`);
  });
});

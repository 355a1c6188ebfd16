// The canary: log in with a recognisable key, run every command, then search every file under AUTHSOME_HOME
// (vault, backups, logs, audit, state) and every stderr for the key and its base64 forms. Only absent passes.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  listFilesRecursive,
  makeTempHome,
  runCli,
  stopHomeServer,
  type CliResult,
  type TempHome,
} from '../helpers/cli.js';

const CANARY = 'sk-CANARYcanary0123456789zzzQQQ_secret';
const CANARY2 = 'sk-CANARYsecond0123456789yyyWWW_secret';
const forms = (s: string) => [
  s,
  Buffer.from(s).toString('base64'),
  Buffer.from(s).toString('base64url'),
  Buffer.from(s).toString('hex'),
];

describe('canary secret', () => {
  let t: TempHome;
  const results: { args: string[]; r: CliResult }[] = [];
  const cli = async (args: string[], input?: string, env?: NodeJS.ProcessEnv) => {
    const r = await runCli(t.home, args, { input, env });
    results.push({ args, r });
    return r;
  };

  beforeAll(async () => {
    t = makeTempHome();
    expect((await cli(['login', 'openai'], `${CANARY}\n`)).code).toBe(0);
    expect((await cli(['login', 'openai', '--connection', 'team'], `${CANARY2}\n`)).code).toBe(0);
    await cli(['login', 'openai', '--connection', 'bad'], `${CANARY} trailing-garbage\n`);
    await cli(['login', 'openai', '--force'], `${CANARY}\n`);
    await cli(['get', 'openai']);
    await cli(['get', 'openai', '--json']);
    await cli(['get', 'openai', '--field', 'api_key']);
    await cli(['get', 'openai', '--field', 'api_key', '--show-secret']);
    for (const format of ['env', 'shell', 'dotenv', 'json']) await cli(['export', 'openai', '--format', format]);
    await cli(['export']);
    await cli(['export', '--json']);
    await cli(['list']);
    await cli(['list', '--json']);
    await cli(['inspect', 'openai']);
    await cli(['set-default', 'openai', 'team']);
    await cli(['whoami']);
    await cli(['doctor']);
    await cli(['log', '-n', '100']);
    await cli(['log', '--json']);
    await cli(['daemon', 'status']);
    const src = join(t.root, 'acme.json');
    writeFileSync(
      src,
      JSON.stringify({
        schema_version: 1,
        name: 'acme',
        display_name: 'Acme',
        auth_type: 'api_key',
        flow: 'api_key',
        api_url: 'api.acme.test',
      }),
    );
    await cli(['register', src]);
    await cli(['passphrase', 'set', '--passphrase-stdin'], 'a long passphrase here\n');
    await cli(['lock']);
    await cli(['get', 'openai']);
    await cli(['unlock', '--passphrase-stdin'], 'a long passphrase here\n');
    await cli(['passphrase', 'remove', '--passphrase-stdin'], 'a long passphrase here\n');
    await cli(['daemon', 'restart']);
    await cli(['daemon', 'logs']);
    await cli(['logout', 'openai', '--connection', 'team']);
    await cli(['revoke', 'openai']);
    await cli(['remove', 'acme']);
    await stopHomeServer(t.home);
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it('is nowhere under AUTHSOME_HOME, in any form', () => {
    const files = listFilesRecursive(t.home);
    expect(files.some((f) => f.endsWith('vault.json.bak'))).toBe(true);
    expect(files.some((f) => f.endsWith('audit.log'))).toBe(true);
    expect(files.some((f) => f.endsWith('server.log'))).toBe(true);
    for (const file of files) {
      const text = readFileSync(file).toString('latin1');
      for (const secret of [CANARY, CANARY2]) {
        for (const form of forms(secret)) expect(text.includes(form), `${form} found in ${file}`).toBe(false);
      }
    }
  });

  it('never reaches stderr, and reaches stdout only where a person asked for it', () => {
    const asked = (args: string[]) => args.includes('--show-secret') || args[0] === 'export';
    for (const { args, r } of results) {
      for (const secret of [CANARY, CANARY2]) {
        expect(r.stderr.includes(secret), `stderr of ${args.join(' ')}`).toBe(false);
        if (!asked(args)) expect(r.stdout.includes(secret), `stdout of ${args.join(' ')}`).toBe(false);
      }
    }
    // The canary did go through the commands that print it on request (so this test can fail).
    expect(results.find((x) => x.args.includes('--show-secret'))!.r.stdout).toBe(`${CANARY}\n`);
  });

  it('the audit log recorded the actions without the secret', () => {
    const audit = readFileSync(join(t.home, 'audit.log'), 'utf8');
    const events = audit
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).event);
    for (const e of ['login', 'reveal', 'export', 'logout', 'revoke']) expect(events).toContain(e);
  });
});

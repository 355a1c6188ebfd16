// Every bad input of the core issue: a clear Error + Hint, the documented exit code, and nothing lost or stored.
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempHome, readVaultRecords, runCli, type TempHome } from '../helpers/cli.js';

const GOOD = 'sk-errors0123456789abcdefghijklmn';

describe('bad input', () => {
  let t: TempHome;
  const cli = (args: string[], input?: string, env?: NodeJS.ProcessEnv) => runCli(t.home, args, { input, env });
  const vaultText = () => readVaultRecords(t.home);

  beforeAll(async () => {
    t = makeTempHome();
    expect((await cli(['login', 'openai'], `${GOOD}\n`)).code).toBe(0);
  });
  afterAll(async () => {
    await t.cleanup();
  });

  it('a key failing the pattern prints the exact seed text, exit 2, nothing stored', async () => {
    const before = vaultText();
    const r = await cli(['login', 'openai', '--connection', 'bad'], 'not-a-key\n');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      "Error: This does not look like a valid OpenAI API key.\nHint: OpenAI API keys start with 'sk-' " +
        "followed by at least 20 letters, digits, '_' or '-'.\n",
    );
    expect(vaultText()).toEqual(before);
    expect((await cli(['get', 'openai', '--connection', 'bad'])).code).toBe(3);
  });

  it('surrounding whitespace is trimmed, embedded whitespace is refused', async () => {
    const ok = await cli(['login', 'openai', '--connection', 'trimmed'], `   ${GOOD}  \t\n`);
    expect(ok.code).toBe(0);
    expect(
      (await cli(['get', 'openai', '--connection', 'trimmed', '--field', 'api_key', '--show-secret'])).stdout,
    ).toBe(`${GOOD}\n`);
    const spaced = await cli(['login', 'openai', '--connection', 'spaced'], 'sk-errors0123456789 abcdefghijklmn\n');
    expect(spaced.code).toBe(2);
    expect(spaced.stderr).toContain('Error: This does not look like a valid OpenAI API key.');
  });

  it('an empty key is refused with a hint', async () => {
    const r = await cli(['login', 'openai', '--connection', 'empty'], '\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error: No OpenAI API key was entered\.\nHint: .+/);
  });

  it('a provider without a pattern still refuses embedded whitespace', async () => {
    const r = await cli(['login', 'mistral'], 'abc def\n');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error: This does not look like a valid Mistral AI API key\.\nHint: /);
  });

  it('unknown provider → exit 4', async () => {
    const r = await cli(['login', 'nope'], `${GOOD}\n`);
    expect(r.code).toBe(4);
    expect(r.stderr).toBe(
      "Error: Provider 'nope' not found.\nHint: Run 'authsome list' to see the available providers.\n",
    );
    expect((await cli(['get', 'nope'])).code).toBe(4);
    expect((await cli(['inspect', 'nope'])).code).toBe(4);
  });

  it('unknown connection → exit 3 with a next step', async () => {
    const r = await cli(['get', 'openai', '--connection', 'ghost']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      new RegExp(
        "^Error: Connection 'ghost' not found for provider 'openai'\\.\\n" +
          "Hint: Run 'authsome login openai --connection ghost'",
      ),
    );
    expect((await cli(['logout', 'openai', '--connection', 'ghost'])).code).toBe(3);
  });

  it('invalid connection name → exit 2', async () => {
    const r = await cli(['login', 'openai', '--connection', 'no spaces!'], `${GOOD}\n`);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error: Invalid connection name 'no spaces!'\.\nHint: /);
  });

  it('unknown field → exit 1', async () => {
    const r = await cli(['get', 'openai', '--field', 'colour']);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toMatch(/^Error: Field 'colour' not found\./);
  });

  it('--json errors are one envelope on stdout', async () => {
    const r = await cli(['get', 'nope', '--json']);
    expect(r.code).toBe(4);
    expect(JSON.parse(r.stdout)).toEqual({
      v: 1,
      error: 'PROVIDER_NOT_FOUND',
      message: "Provider 'nope' not found.",
      hint: "Run 'authsome list' to see the available providers.",
    });
  });

  it('unknown commands and options are usage errors (exit 2)', async () => {
    expect((await cli(['frobnicate'])).code).toBe(2);
    const r = await cli(['get', 'openai', '--feild', 'status']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error: Unknown option '--feild'\./);
    const missing = await cli(['get']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(
      "Error: Missing argument <provider>.\nHint: Run 'authsome get --help' to see the usage.\n",
    );
  });

  describe('custom provider files', () => {
    const cases: [string, string, RegExp][] = [
      ['badjson', '{"schema_version": 1, "name": "badjson",', /not valid JSON/],
      [
        'nofield',
        JSON.stringify({
          schema_version: 1,
          name: 'nofield',
          auth_type: 'api_key',
          flow: 'api_key',
          api_url: 'x.example',
        }),
        /display_name is required/,
      ],
      [
        'badregex',
        JSON.stringify({
          schema_version: 1,
          name: 'badregex',
          display_name: 'B',
          auth_type: 'api_key',
          flow: 'api_key',
          api_url: 'x.example',
          api_key: { key_pattern: '([a-z' },
        }),
        /api_key\.key_pattern is not a valid regular expression/,
      ],
      [
        'mismatch',
        JSON.stringify({
          schema_version: 1,
          name: 'other',
          display_name: 'M',
          auth_type: 'api_key',
          flow: 'api_key',
          api_url: 'x.example',
        }),
        /name 'other' must equal the file name 'mismatch'/,
      ],
    ];

    it.each(cases)(
      '%s: list warns, names the file and the reason, and still lists everything else',
      async (name, text, reason) => {
        const path = join(t.home, 'providers', `${name}.json`);
        writeFileSync(path, text);
        try {
          const r = await cli(['list']);
          expect(r.code).toBe(0);
          const warning = r.stderr.split('\n').find((l) => l.includes(path));
          expect(warning).toMatch(/^Warning: ignoring /);
          expect(warning).toMatch(reason);
          expect(r.stdout).toMatch(/^openai\s/m);
          expect(r.stdout.split('\n')[0]).toMatch(/^Providers: 61 total/);
        } finally {
          writeFileSync(path, '');
          (await import('node:fs')).rmSync(path);
        }
      },
    );

    it('a broken custom file of a bundled provider falls back to the bundled one', async () => {
      const path = join(t.home, 'providers', 'openai.json');
      writeFileSync(path, '{ nope');
      try {
        const r = await cli(['list']);
        expect(r.stderr).toContain(`Warning: ignoring ${path}: not valid JSON`);
        expect(r.stdout).toMatch(/^openai\s+bundled\s/m);
        expect((await cli(['get', 'openai', '--field', 'status'])).stdout).toBe('connected\n');
      } finally {
        (await import('node:fs')).rmSync(path);
      }
    });
  });

  describe('register', () => {
    const def = (name: string, extra: object = {}) =>
      JSON.stringify(
        {
          schema_version: 1,
          name,
          display_name: 'Acme',
          auth_type: 'api_key',
          flow: 'api_key',
          api_url: 'api.acme.test',
          ...extra,
        },
        null,
        2,
      );

    it('registers, refuses a second time without --force (exit 7), replaces with --force', async () => {
      const src = join(t.root, 'acme.json');
      writeFileSync(src, def('acme'));
      const first = await cli(['register', src]);
      expect(first.code).toBe(0);
      expect(first.stdout).toMatch(/^Registered provider acme \(/);
      const again = await cli(['register', src]);
      expect(again.code).toBe(7);
      expect(again.stderr).toBe("Error: Provider 'acme' already exists.\nHint: Use --force to replace it.\n");
      writeFileSync(src, def('acme', { display_name: 'Acme Two' }));
      expect((await cli(['register', src, '--force'])).code).toBe(0);
      expect(JSON.parse((await cli(['inspect', 'acme'])).stdout).display_name).toBe('Acme Two');
      expect((await cli(['list'])).stdout).toMatch(/^acme\s+custom\s/m);
    });

    it(
      'a bundled name also exists (7); an invalid file is ' + 'refused before that check, naming the source path',
      async () => {
        const src = join(t.root, 'openai-copy.json');
        writeFileSync(src, def('openai'));
        expect((await cli(['register', src])).code).toBe(7);
        const bad = join(t.root, 'bad.json');
        writeFileSync(bad, def('openai', { api_key: { key_pattern: '(' } }));
        const r = await cli(['register', bad]);
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(
          `Error: Provider file ${bad} is invalid: api_key.key_pattern is not a valid regular expression.`,
        );
      },
    );

    it('a missing file is a clear error', async () => {
      const r = await cli(['register', join(t.root, 'nope.json')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^Error: Cannot read .*nope\.json: ENOENT\./);
    });
  });

  it('remove deletes a custom definition and its connections', async () => {
    const src = join(t.root, 'gone.json');
    mkdirSync(t.root, { recursive: true });
    writeFileSync(
      src,
      JSON.stringify({
        schema_version: 1,
        name: 'gone',
        display_name: 'Gone',
        auth_type: 'api_key',
        flow: 'api_key',
        api_url: 'api.gone.test',
      }),
    );
    expect((await cli(['register', src])).code).toBe(0);
    expect((await cli(['login', 'gone'], 'whatever-key\n')).code).toBe(0);
    expect((await cli(['remove', 'gone'])).stdout).toBe('Removed provider gone.\n');
    expect((await cli(['inspect', 'gone'])).code).toBe(4);
  });
  it('stored text with terminal escapes (audit entries, provider files) is shown escaped, never acted on', async () => {
    // What a terminal would act on: OSC (window title), CSI (clear screen), a bare CR, the one-byte C1 CSI,
    // DEL and a right-to-left override.
    const TITLE = '\u001b]0;pwned\u0007';
    const hostile = `${TITLE}evil.example\u001b[2J\r\u009b31m\u007f\u202egnp.exe`;
    // Anything a terminal acts on; '\n' only as our own line break.
    // eslint-disable-next-line no-control-regex
    const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
    const providers = join(t.home, 'providers');
    mkdirSync(providers, { recursive: true });
    const definition = {
      schema_version: 1,
      name: 'hostile',
      display_name: hostile,
      auth_type: 'api_key',
      api_url: 'api.hostile.example',
      metadata: { description: hostile },
    };
    writeFileSync(join(providers, 'hostile.json'), JSON.stringify(definition));
    writeFileSync(join(providers, 'badname.json'), JSON.stringify({ ...definition, name: `x${TITLE}\u009b2J` }));
    writeFileSync(join(providers, 'file\u001b[2J.json'), '{}');
    const entry = {
      ts: new Date().toISOString(),
      event: 'no_match',
      method: 'GET',
      host: hostile,
      path: `/${hostile}`,
    };
    appendFileSync(join(t.home, 'audit.log'), `${JSON.stringify({ ...entry, reason: hostile })}\n`);
    try {
      const runs = {
        log: await cli(['log', '-n', '5']),
        list: await cli(['list']),
        get: await cli(['get', `x${TITLE}`]),
        inspect: await cli(['inspect', 'hostile']),
        logJson: await cli(['log', '-n', '5', '--json']),
        listJson: await cli(['list', '--json']),
        getJson: await cli(['get', `x${TITLE}`, '--json']),
      };
      for (const [name, r] of Object.entries(runs)) {
        expect(RAW.test(r.stdout), `${name} stdout: ${JSON.stringify(r.stdout)}`).toBe(false);
        expect(RAW.test(r.stderr), `${name} stderr: ${JSON.stringify(r.stderr)}`).toBe(false);
      }
      // Shown as visible escapes, in the table and in the warnings and errors.
      expect(runs.log.stdout).toContain('\\x1b]0;pwned\\x07evil.example\\x1b[2J\\r\\u009b31m\\x7f\\u202egnp.exe');
      expect(runs.list.stderr).toContain('file\\x1b[2J.json');
      expect(runs.list.stderr).toContain("'x\\x1b]0;pwned\\x07\\u009b2J' must match");
      expect(runs.get.stderr).toContain("Provider 'x\\x1b]0;pwned\\x07' not found.");
      // JSON still says exactly what is stored, and `inspect` still round-trips into a provider file.
      expect(JSON.parse(runs.logJson.stdout).entries.at(-1).host).toBe(hostile);
      expect(JSON.parse(runs.listJson.stdout).warnings.map((w: { path: string }) => w.path)).toContain(
        join(providers, 'file\u001b[2J.json'),
      );
      expect(JSON.parse(runs.getJson.stdout).message).toBe(`Provider 'x${TITLE}' not found.`);
      expect(JSON.parse(runs.inspect.stdout)).toEqual(definition);
    } finally {
      for (const file of ['hostile.json', 'badname.json', 'file\u001b[2J.json']) rmSync(join(providers, file));
    }
  });
});

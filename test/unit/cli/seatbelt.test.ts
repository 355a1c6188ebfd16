// The macOS sandbox's profile text and sandbox-exec command line. macOS cannot run here: these checks read the SBPL
// the way Seatbelt's Scheme reader would (strings, escapes, brackets) and the rule order it applies (last match wins).
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  buildSeatbeltArgs,
  buildSeatbeltProfile,
  findSeatbeltHiddenPaths,
  quoteSbplString,
} from '../../../src/cli/seatbelt.js';
import { makeTempDir, type TempDir } from '../../helpers/temp-dir.js';

type Sexp = string | { str: string } | Sexp[];

/** A reader for the subset of Scheme SBPL uses: lists, symbols, "strings" with \ escapes, #"regex" strings. */
function readSbpl(text: string): Sexp[] {
  let at = 0;
  const readString = (): string => {
    let out = '';
    at++;
    while (text[at] !== '"') {
      if (at >= text.length) throw new Error('unterminated string');
      if (text[at] === '\\') at++;
      out += text[at++];
    }
    at++;
    return out;
  };
  const readList = (): Sexp[] => {
    const items: Sexp[] = [];
    while (at < text.length) {
      const c = text[at]!;
      if (/\s/.test(c)) at++;
      else if (c === '(') {
        at++;
        items.push(readList());
      } else if (c === ')') {
        at++;
        return items;
      } else if (c === '"') items.push({ str: readString() });
      else if (c === '#' && text[at + 1] === '"') {
        at++;
        items.push({ str: readString() });
      } else {
        const word = /^[^\s()"]+/.exec(text.slice(at))![0];
        items.push(word);
        at += word.length;
      }
    }
    return items;
  };
  const top: Sexp[] = [];
  while (at < text.length) {
    if (/\s/.test(text[at]!)) at++;
    else if (text[at] === '(') {
      at++;
      top.push(readList());
    } else throw new Error(`stray ${text[at]} at ${at}`);
  }
  return top;
}

const strings = (x: Sexp): string[] => (typeof x === 'string' ? [] : Array.isArray(x) ? x.flatMap(strings) : [x.str]);

const base = { homePaths: ['/Users/me/.authsome'], hiddenDirs: [], hiddenFiles: [], proxyPort: 41234 };

describe('buildSeatbeltProfile', () => {
  it('allows by default, then denies every read and write under the home in both spellings, and moving it away', () => {
    const rules = readSbpl(
      buildSeatbeltProfile({ ...base, homePaths: ['/private/tmp/me/.authsome', '/tmp/me/.authsome'] }),
    );
    expect(rules[0]).toEqual(['version', '1']);
    expect(rules[1]).toEqual(['allow', 'default']);
    expect(rules).toContainEqual([
      'deny',
      'file-read*',
      'file-write*',
      ['subpath', { str: '/private/tmp/me/.authsome' }],
      ['subpath', { str: '/tmp/me/.authsome' }],
    ]);
    // Renaming a parent would move the vault to a path no rule names.
    const unlink = rules.find((r) => Array.isArray(r) && r[1] === 'file-write-unlink') as Sexp[];
    expect(strings(unlink).sort()).toEqual(['/private', '/private/tmp', '/private/tmp/me', '/tmp', '/tmp/me']);
  });

  it('gives back over IP only TCP to the proxy port on loopback, as the last rule, after denying all outbound', () => {
    const text = buildSeatbeltProfile(base);
    const rules = readSbpl(text);
    const outbound = rules.filter((r) => Array.isArray(r) && r[1] === 'network-outbound') as Sexp[][];
    expect(outbound[0]).toEqual(['deny', 'network-outbound']);
    expect(rules.at(-1)).toEqual(['allow', 'network-outbound', ['remote', 'ip', { str: 'localhost:41234' }]]);
    // No other rule names an IP address, so nothing else is given back: no other port, no other host.
    expect(text.match(/remote ip/g)).toHaveLength(1);
    expect(rules.filter((r) => Array.isArray(r) && r[0] === 'allow')).toHaveLength(3);
  });

  it('closes name resolution: the unix sockets it gives back exclude mDNSResponder, and dnssd is not looked up', () => {
    const rules = readSbpl(buildSeatbeltProfile(base));
    const giveBack = rules.findIndex((r) => JSON.stringify(r).includes('"path-regex"'));
    expect(rules[giveBack]).toEqual([
      'allow',
      'network-outbound',
      ['remote', 'unix-socket', ['path-regex', { str: '^/' }]],
    ]);
    const mdns = rules.findIndex((r) => strings(r).includes('/private/var/run/mDNSResponder'));
    expect((rules[mdns] as Sexp[])[0]).toBe('deny');
    expect(mdns).toBeGreaterThan(giveBack);
    expect(rules).toContainEqual(['deny', 'mach-lookup', ['global-name', { str: 'com.apple.dnssd.service' }]]);
  });

  it('denies connections into the hidden socket places (subpath for a directory, path-literal for a file)', () => {
    const rules = readSbpl(
      buildSeatbeltProfile({ ...base, hiddenDirs: ['/private/tmp/tmux-501'], hiddenFiles: ['/var/run/docker.sock'] }),
    );
    const giveBack = rules.findIndex((r) => JSON.stringify(r).includes('"path-regex"'));
    const hidden = rules.findIndex((r) => strings(r).includes('/private/tmp/tmux-501'));
    expect(hidden).toBeGreaterThan(giveBack);
    expect(rules[hidden]).toEqual([
      'deny',
      'network-outbound',
      ['remote', 'unix-socket', ['subpath', { str: '/private/tmp/tmux-501' }]],
      ['remote', 'unix-socket', ['path-literal', { str: '/var/run/docker.sock' }]],
    ]);
    // With nothing to hide, no empty rule (Seatbelt would read a filterless deny as "deny all outbound").
    expect(readSbpl(buildSeatbeltProfile(base)).filter((r) => JSON.stringify(r).includes('"subpath"'))).toHaveLength(1);
  });

  it('quotes a path holding " and \\ so that it reads back as itself and adds no rule', () => {
    expect(quoteSbplString('/a"b\\c')).toBe('"/a\\"b\\\\c"');
    const hostile = '/Users/me/x") (allow file-read* (subpath "/") ; \\';
    const profile = buildSeatbeltProfile({ ...base, homePaths: [hostile], hiddenDirs: [`${hostile}d`] });
    const rules = readSbpl(profile);
    expect(strings(rules)).toContain(hostile);
    expect(strings(rules)).toContain(`${hostile}d`);
    const plain = readSbpl(buildSeatbeltProfile({ ...base, homePaths: ['/Users/me/x'], hiddenDirs: ['/d'] }));
    expect(rules.length).toBe(plain.length);
    expect(rules.filter((r) => Array.isArray(r) && r[0] === 'allow')).toHaveLength(3);
  });

  it('refuses a port that is not one', () => {
    for (const proxyPort of [0, Number.NaN, 70000, 1.5])
      expect(() => buildSeatbeltProfile({ ...base, proxyPort })).toThrow(/not a TCP port/);
  });
});

describe('buildSeatbeltArgs', () => {
  it('is exactly -p <profile> -- <command…>, so a command word that looks like an option stays the command', () => {
    expect(buildSeatbeltArgs('(version 1)', ['node', '-e', '1'])).toEqual([
      '-p',
      '(version 1)',
      '--',
      'node',
      '-e',
      '1',
    ]);
    expect(buildSeatbeltArgs('P', ['-f', 'x'])).toEqual(['-p', 'P', '--', '-f', 'x']);
  });
});

describe('findSeatbeltHiddenPaths', () => {
  let t: TempDir;
  afterEach(async () => t.cleanup());

  it('lists the tmux, screen, XQuartz and docker places that exist, in both spellings, nothing missing', async () => {
    t = await makeTempDir('seatbelt');
    const uid = process.getuid!();
    const realTmp = join(t.path, 'real-tmp');
    await mkdir(join(realTmp, `tmux-${uid}`), { recursive: true });
    await symlink(realTmp, join(t.path, 'tmp'));
    await mkdir(join(t.path, 'screens'));
    await mkdir(join(t.path, 'home', '.docker', 'run'), { recursive: true });
    await writeFile(join(t.path, 'org.xquartz:0'), '');
    const env = {
      TMUX_TMPDIR: join(t.path, 'tmp'),
      SCREENDIR: join(t.path, 'screens'),
      HOME: join(t.path, 'home'),
      DISPLAY: join(t.path, 'org.xquartz:0'),
    };
    const found = await findSeatbeltHiddenPaths(env, uid);
    expect(found.dirs).toEqual(
      expect.arrayContaining([
        join(realTmp, `tmux-${uid}`),
        join(t.path, 'tmp', `tmux-${uid}`),
        join(t.path, 'screens'),
        join(t.path, 'home', '.docker', 'run'),
      ]),
    );
    expect(found.files).toContain(join(t.path, 'org.xquartz:0'));
    // ~/.colima does not exist here: a rule for it would name nothing.
    expect([...found.dirs, ...found.files].some((p) => p.includes('.colima'))).toBe(false);
    expect([...found.dirs, ...found.files].every((p) => p !== '/')).toBe(true);
  });
});

// Where `login` reads an API key from, first rule that applies: --stdin → stdin; a browser is
// available and no --no-browser → browser; stdin is a terminal → masked prompt; otherwise stdin.
import { describe, it, expect } from 'vitest';
import { chooseKeySource, isBrowserAvailable } from '../../../src/cli/key-source.js';

type Input = Parameters<typeof chooseKeySource>[0];
const headlessLinux: Input = { stdinFlag: false, noBrowser: false, stdinIsTTY: false, env: {}, platform: 'linux' };
const choose = (overrides: Partial<Input>) => chooseKeySource({ ...headlessLinux, ...overrides });

describe('isBrowserAvailable', () => {
  it('BROWSER, DISPLAY or WAYLAND_DISPLAY set on Linux', () => {
    expect(isBrowserAvailable({}, 'linux')).toBe(false);
    expect(isBrowserAvailable({ BROWSER: 'firefox' }, 'linux')).toBe(true);
    expect(isBrowserAvailable({ DISPLAY: ':0' }, 'linux')).toBe(true);
    expect(isBrowserAvailable({ WAYLAND_DISPLAY: 'wayland-0' }, 'linux')).toBe(true);
  });

  it('always on macOS and Windows', () => {
    expect(isBrowserAvailable({}, 'darwin')).toBe(true);
    expect(isBrowserAvailable({}, 'win32')).toBe(true);
  });

  it('an empty variable does not count, nor do unrelated ones', () => {
    expect(isBrowserAvailable({ BROWSER: '', DISPLAY: '', WAYLAND_DISPLAY: '' }, 'linux')).toBe(false);
    expect(isBrowserAvailable({ TERM: 'xterm', XDG_SESSION_TYPE: 'tty' }, 'freebsd')).toBe(false);
  });
});

describe('chooseKeySource', () => {
  describe('rule 1: --stdin wins over everything', () => {
    it.each<Partial<Input>>([
      { stdinFlag: true },
      { stdinFlag: true, env: { BROWSER: 'x' } },
      { stdinFlag: true, platform: 'darwin', stdinIsTTY: true },
      { stdinFlag: true, noBrowser: true, stdinIsTTY: true },
    ])('%o → stdin', (overrides) => {
      expect(choose(overrides)).toBe('stdin');
    });
  });

  describe('rule 2: a browser is available and no --no-browser → browser, terminal or not', () => {
    it.each<Partial<Input>>([
      { env: { BROWSER: 'x' } },
      { env: { DISPLAY: ':0' }, stdinIsTTY: true },
      { env: { WAYLAND_DISPLAY: 'w' } },
      { platform: 'darwin', stdinIsTTY: true },
      { platform: 'win32' },
    ])('%o → browser', (overrides) => {
      expect(choose(overrides)).toBe('browser');
    });
  });

  describe('rule 3: stdin is a terminal → masked prompt', () => {
    it.each<Partial<Input>>([
      { stdinIsTTY: true },
      { stdinIsTTY: true, noBrowser: true, env: { BROWSER: 'x', DISPLAY: ':0' } },
      { stdinIsTTY: true, noBrowser: true, platform: 'darwin' },
    ])('%o → prompt', (overrides) => {
      expect(choose(overrides)).toBe('prompt');
    });
  });

  describe('rule 4: otherwise → stdin', () => {
    it.each<Partial<Input>>([{}, { noBrowser: true, env: { BROWSER: 'x' } }, { noBrowser: true, platform: 'win32' }])(
      '%o → stdin',
      (overrides) => {
        expect(choose(overrides)).toBe('stdin');
      },
    );
  });
});

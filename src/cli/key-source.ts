// Where `login` takes an API key from, first rule that applies: --stdin; a browser is available
// and not --no-browser → the browser form; stdin is a terminal → masked prompt; otherwise stdin.

export type KeySource = 'stdin' | 'browser' | 'prompt';

export function isBrowserAvailable(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): boolean {
  const set = (name: string) => env[name] !== undefined && env[name] !== '';
  return set('BROWSER') || set('DISPLAY') || set('WAYLAND_DISPLAY') || platform === 'darwin' || platform === 'win32';
}

export function chooseKeySource(input: {
  stdinFlag: boolean;
  noBrowser: boolean;
  stdinIsTTY: boolean;
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
}): KeySource {
  if (input.stdinFlag) return 'stdin';
  if (!input.noBrowser && isBrowserAvailable(input.env, input.platform)) return 'browser';
  if (input.stdinIsTTY) return 'prompt';
  return 'stdin';
}

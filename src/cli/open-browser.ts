// Opening a URL in the person's browser (SPEC §10): `BROWSER` is the command, run with the URL as its argument;
// otherwise the platform's opener. Fire and forget: the CLI has already printed the URL, so a failure here
// only costs a warning.
import { spawn } from 'node:child_process';

export interface BrowserCommand {
  command: string;
  args: string[];
}

/** Pure: which program to run for `url`. BROWSER may carry its own arguments ("firefox --new-window"). */
export function buildBrowserCommand(url: string, env: NodeJS.ProcessEnv, platform: NodeJS.Platform): BrowserCommand {
  const browser = env.BROWSER?.trim();
  if (browser) {
    if (platform === 'win32') return { command: 'cmd', args: ['/d', '/s', '/c', `${browser} "${url}"`] };
    // The URL travels as "$1", never pasted into the shell text.
    return { command: '/bin/sh', args: ['-c', `${browser} "$1"`, 'authsome-browser', url] };
  }
  if (platform === 'darwin') return { command: 'open', args: [url] };
  if (platform === 'win32') return { command: 'cmd', args: ['/d', '/s', '/c', 'start', '""', url] };
  return { command: 'xdg-open', args: [url] };
}

/** Starts the browser detached; resolves with an error message when it could not even be started. */
export function openBrowser(url: string, env: NodeJS.ProcessEnv = process.env, platform = process.platform): Promise<string | undefined> {
  const { command, args } = buildBrowserCommand(url, env, platform);
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(command, args, { detached: true, stdio: 'ignore', env, windowsVerbatimArguments: platform === 'win32' });
    } catch (err) {
      resolve((err as Error).message);
      return;
    }
    child.once('error', (err) => resolve(`${command}: ${err.message}`));
    child.once('spawn', () => {
      child.unref();
      resolve(undefined);
    });
  });
}

// `authsome ui [--no-browser]`: a one-time URL that signs a browser into the dashboard. Opens it when
// a browser is available; with --no-browser (or none) the URL is data on stdout, for a browser you start yourself.
import { defineCommand } from 'citty';
import { isBrowserAvailable } from '../key-source.js';
import { openBrowser } from '../open-browser.js';
import { getOutput } from '../output.js';
import { connect } from './_shared.js';

export default defineCommand({
  meta: { name: 'ui', description: 'Open the web dashboard, signed in (or print its one-time URL with --no-browser).' },
  args: {
    browser: {
      type: 'boolean',
      default: true,
      negativeDescription: 'Print the one-time URL instead of opening a browser',
    },
  },
  async run({ args }) {
    const out = getOutput();
    const api = await connect();
    const { url, expires_at } = await api.call<{ url: string; expires_at: string }>('POST', '/ui-link', {});
    if (args.browser === false || !isBrowserAvailable(process.env, process.platform)) {
      out.result({ url, expires_at }, () => url);
      const minutes = Math.max(1, Math.round((Date.parse(expires_at) - Date.now()) / 60_000));
      out.info(`This link works once, within ${minutes} minute${minutes === 1 ? '' : 's'}.`);
      return;
    }
    process.stderr.write(`Opening ${url} in your browser…\n`);
    // The launcher file stays for the browser to read; the next open sweeps it once the URL has expired.
    const { failure } = await openBrowser(url);
    if (failure) out.warn(`Could not start a browser (${failure}). Open the URL above yourself.`);
    out.result({ url, expires_at, opened: !failure }, () => undefined);
  },
});

// `authsome inspect <provider>`: the effective definition as pretty JSON and nothing else, so that
// `authsome inspect p > ~/.authsome/providers/p.json` round-trips (C1 and bidi controls as \u escapes, which
// parse back to the same characters, so the terminal shows them instead of acting on them).
import { defineCommand } from 'citty';
import { getOutput } from '../output.js';
import { escapeJsonText } from '../terminal-text.js';
import { connect, providerArg } from './_shared.js';

export default defineCommand({
  meta: { name: 'inspect', description: 'Print the effective provider definition as JSON (bundled or custom).' },
  args: { ...providerArg },
  async run({ args }) {
    const api = await connect();
    const r = await api.call<{ name: string; source: string; path: string; definition: Record<string, unknown> }>(
      'GET',
      `/providers/${encodeURIComponent(args.provider)}`,
    );
    getOutput().result({ name: r.name, source: r.source, path: r.path, definition: r.definition }, () =>
      escapeJsonText(JSON.stringify(r.definition, null, 2)),
    );
  },
});

// How values look on a page: masked secrets, dates a person reads, and a key_pattern the browser's `pattern`
// attribute accepts. Pure functions; templates call them through the render data.
import { SELF_TEST_PROGRAM } from '../runs/run-service.js';

/** `sk-…a1b2`: enough to tell two keys apart, never enough to use one. Short values show nothing. */
export function maskSecret(value: string | undefined): string {
  if (!value) return '';
  if (value.length < 12) return '••••••••';
  if (value.length < 20) return `…${value.slice(-2)}`;
  return `${value.slice(0, 3)}…${value.slice(-4)}`;
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
];
// The Intl formatters are made on first use: each loads ICU data, tens of ms of the server's cold start otherwise.
let relative: Intl.RelativeTimeFormat | undefined;

/** "3 minutes ago", "in 2 days", "just now". */
export function formatRelative(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const seconds = Math.round((t - now) / 1000);
  if (Math.abs(seconds) < 45) return 'just now';
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === 'minute') {
      relative ??= new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
      return relative.format(Math.round(seconds / size), unit);
    }
  }
  return iso;
}

/** "2025-01-31 14:05 UTC": exact, for the title attribute and tables. */
export function formatTimestamp(iso: string | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

// The server runs on the person's own machine, so its local time zone is theirs.
let eventTime: Intl.DateTimeFormat | undefined;

/** "Nov 26, 14:05:09" in local time: the activity log, where exact times matter. */
export function formatEventTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  eventTime ??= new Intl.DateTimeFormat('en', {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
  return eventTime.format(d);
}

/**
 * Browsers compile `pattern` with the `v` flag, where an unescaped `-`, `(`, `)`, `[`, `{`, `}`, `/` or `|`
 * inside a character class is a syntax error (and the page logs an error). Escapes those, keeps the meaning,
 * and returns undefined when the pattern still does not compile: the server validates either way.
 */
export function buildHtmlPattern(pattern: string | undefined): string | undefined {
  if (!pattern) return undefined;
  if (compilesWithV(pattern)) return pattern;
  let out = '';
  let inClass = false;
  let classStart = 0;
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\') {
      out += ch + (pattern[i + 1] ?? '');
      i++;
      continue;
    }
    if (!inClass) {
      if (ch === '[') {
        inClass = true;
        classStart = out.length + 1;
        if (pattern[i + 1] === '^') {
          out += '[^';
          i++;
          classStart++;
          continue;
        }
      }
      out += ch;
      continue;
    }
    if (ch === ']') {
      inClass = false;
      out += ch;
      continue;
    }
    if (ch === '-') {
      const first = out.length === classStart;
      const last = pattern[i + 1] === ']';
      out += first || last ? '\\-' : '-';
      continue;
    }
    out += '()[{}/|'.includes(ch) ? `\\${ch}` : ch;
  }
  return compilesWithV(out) ? out : undefined;
}

function compilesWithV(pattern: string): boolean {
  try {
    new RegExp(`^(?:${pattern})$`, 'v');
    return true;
  } catch {
    return false;
  }
}

export type Tone = 'ok' | 'warn' | 'error' | 'info' | 'muted';

const EVENTS: Record<string, [string, Tone]> = {
  login: ['Logged in', 'ok'],
  logout: ['Logged out', 'muted'],
  revoke: ['Revoked', 'warn'],
  remove: ['Removed', 'warn'],
  export: ['Exported', 'info'],
  reveal: ['Revealed', 'warn'],
  set_default: ['Default set', 'info'],
  register: ['Registered', 'info'],
  override_saved: ['Override saved', 'info'],
  override_reset: ['Override reset', 'info'],
  unlock: ['Unlocked', 'ok'],
  lock: ['Locked', 'muted'],
  passphrase_set: ['Passphrase set', 'info'],
  passphrase_removed: ['Passphrase removed', 'warn'],
  run_start: ['Run started', 'info'],
  run_end: ['Run ended', 'muted'],
  inject: ['Injected', 'ok'],
  no_match: ['No match', 'muted'],
  ambiguous: ['Ambiguous', 'warn'],
  refresh: ['Refreshed', 'ok'],
  refresh_failed: ['Refresh failed', 'error'],
  denied: ['Denied', 'error'],
  secret_in_response: ['Key scrubbed', 'warn'],
};

/** How an audit event reads in the activity list: a label and a colour; doctor's self-test is not an agent's run. */
export function describeEvent(event: string, program?: string): { label: string; tone: Tone } {
  if (program === SELF_TEST_PROGRAM && (event === 'run_start' || event === 'run_end')) {
    return { label: event === 'run_start' ? 'Self-test' : 'Self-test ended', tone: 'muted' };
  }
  const [label, tone] = EVENTS[event] ?? [event, 'muted'];
  return { label, tone };
}

/** A stable colour (0-7) for a provider's letter avatar, from its name. */
export function pickAvatarTone(name: string): number {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h % 8;
}

// Stored or remote text on its way to a terminal: every character a terminal would act on instead of showing
// (C0 and C1 controls, DEL, bidi overrides, line separators) becomes a visible escape such as \x1b or \u202e.
// Data whose bytes must round-trip (export values, a revealed field) does not come through here.

// C0 controls and DEL, C1 controls (U+009B is a one-byte CSI to many terminals), the bidi marks, embeddings,
// overrides and isolates that reorder what is shown, and the Unicode line and paragraph separators.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// The same minus '\n', for whole messages whose line breaks are ours.
// eslint-disable-next-line no-control-regex
const UNSAFE_BUT_NEWLINE =
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// What JSON.stringify leaves raw: it escapes C0 itself, and anything outside a string is ASCII.
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(ch: string): string {
  const code = ch.charCodeAt(0);
  return (
    NAMED[ch] ?? (code < 0x80 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`)
  );
}

/** One value (a table cell, a field): no control character of any kind survives, line breaks included. */
export function escapeTerminalText(text: string): string {
  return text.replace(UNSAFE, escapeChar);
}

/** A message of several lines: as escapeTerminalText, but '\n' stays a line break. */
export function escapeTerminalLines(text: string): string {
  return text.replace(UNSAFE_BUT_NEWLINE, escapeChar);
}

/** JSON text with C1, DEL and bidi controls as \u escapes: still valid JSON that parses to the same value. */
export function escapeJsonText(json: string): string {
  return json.replace(UNSAFE_IN_JSON, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// Revealing a key asks for a confirmation fresher than the browser session: the vault's passphrase when it has
// one, else a sign-in through a one-time URL within the last five minutes. A session cookie and CSRF token copied
// out of a browser (by a process that can read them) are not enough to read a key.
import { AppError } from '../errors.js';
import type { Vault } from '../vault/vault.js';
import type { BrowserSession, BrowserSessions } from './browser-sessions.js';
import { RECENT_SIGN_IN_MS } from './web-state.js';

export interface RevealRefusal {
  message: string;
  hint?: string;
  command?: string;
}

/** Undefined when the reveal may go ahead; otherwise what to tell the person (never the key, never the passphrase). */
export async function checkRevealConfirmation(
  vault: Vault,
  sessions: BrowserSessions,
  session: BrowserSession,
  passphrase: string | undefined,
): Promise<RevealRefusal | undefined> {
  if (vault.status().mode === 'passphrase') {
    if (!passphrase) return { message: 'Enter the vault passphrase to reveal this key.' };
    try {
      await vault.checkPassphrase(passphrase);
      return undefined;
    } catch (err) {
      if (err instanceof AppError && err.code === 'WRONG_PASSPHRASE')
        return { message: 'Wrong passphrase. Nothing was revealed.' };
      throw err;
    }
  }
  if (sessions.isRecentSignIn(session, RECENT_SIGN_IN_MS)) return undefined;
  return {
    message: 'Revealing a key needs a sign-in from your terminal in the last 5 minutes.',
    hint: 'Run this in a terminal, then reveal again:',
    command: 'authsome ui',
  };
}

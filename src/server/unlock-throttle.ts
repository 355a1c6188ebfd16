// The pause after wrong passphrases, shared by the /unlock page and POST /api/vault/unlock so that switching
// between them gains nothing. Pure state over an injected clock; it never sees a passphrase.
import { errors, isAppError } from '../errors.js';

/** Wrong passphrases allowed in a row before the first pause. */
export const FREE_ATTEMPTS = 5;
const FIRST_PAUSE_MS = 5_000;
const MAX_PAUSE_MS = 60_000;

export interface UnlockThrottle {
  /**
   * Runs `check` (the passphrase check) unless unlocking is paused, in which case it throws TOO_MANY_ATTEMPTS
   * without calling it. A WRONG_PASSPHRASE from `check` counts; success forgets every failure.
   */
  attempt<T>(check: () => Promise<T>): Promise<T>;
}

export function createUnlockThrottle(now: () => number = Date.now): UnlockThrottle {
  let failures = 0;
  let pausedUntil = 0;
  return {
    async attempt(check) {
      const at = now();
      if (at < pausedUntil) throw errors.tooManyUnlockAttempts(Math.ceil((pausedUntil - at) / 1000));
      // Counted before the check, which takes a while (the KDF): attempts sent in parallel cannot all slip in
      // before the first failure is recorded.
      failures++;
      if (failures >= FREE_ATTEMPTS)
        pausedUntil = at + Math.min(MAX_PAUSE_MS, FIRST_PAUSE_MS * 2 ** (failures - FREE_ATTEMPTS));
      try {
        const result = await check();
        failures = 0;
        pausedUntil = 0;
        return result;
      } catch (err) {
        // Only a wrong passphrase is a guess; a vault without a passphrase or a damaged one is not.
        if (!isAppError(err) || err.code !== 'WRONG_PASSPHRASE') {
          failures = Math.max(0, failures - 1);
          if (failures < FREE_ATTEMPTS) pausedUntil = 0;
        }
        throw err;
      }
    },
  };
}

// How a token's expiry reads to a person: "expires in 42m", "expired 5m ago". Pure; one wording for the CLI's list
// and the pages.

/** `iso` relative to `now`, in the largest whole unit that fits (s, m, h, d). */
export function formatExpiry(iso: string, now = Date.now()): string {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return iso;
  const ms = at - now;
  const abs = Math.abs(ms);
  const span =
    abs < 60_000
      ? `${Math.round(abs / 1000)}s`
      : abs < 3_600_000
        ? `${Math.round(abs / 60_000)}m`
        : abs < 86_400_000
          ? `${Math.round(abs / 3_600_000)}h`
          : `${Math.round(abs / 86_400_000)}d`;
  return ms > 0 ? `expires in ${span}` : `expired ${span} ago`;
}

// The Python that can run the `requests` client tests: Debian's /usr/bin/python3 (CI installs python3-requests
// for it) or the first python3 on PATH that imports requests. Falls back to plain `python3`, so a missing
// module fails the test with Python's own error rather than skipping it.
import { spawnSync } from 'node:child_process';

let found: string | undefined;

export function findPythonWithRequests(): string {
  if (found) return found;
  for (const candidate of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(candidate, ['-c', 'import requests'], { stdio: 'ignore' });
    if (r.status === 0) return (found = candidate);
  }
  return (found = 'python3');
}

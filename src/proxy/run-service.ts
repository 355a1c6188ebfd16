// Run sessions as the server offers them: the proxy's session registry, the CA made ready for interception,
// and the audit trail (run_start / run_end). The proxy URL carries the session's secret: it is returned to the
// `run` command that asked for it and is never logged.
import type { AuditLog } from '../audit.js';
import type { ScopeEntry } from '../providers/routes.js';
import type { CaProvider } from './ca-provider.js';
import type { RunSessionRegistry } from './run-sessions.js';

export interface StartedRun {
  id: string;
  /** SECRET: contains the per-run proxy password. */
  proxyUrl: string;
  caCertPath: string;
  caBundlePath: string;
  preloadPath: string;
}

export interface RunService {
  start(input: { pid?: number; scope: ScopeEntry[] }): Promise<StartedRun>;
  end(id: string, exitCode?: number): boolean;
  /** Whether the session still serves (`run` checks, so that it can say when the ground moved). */
  isLive(id: string): boolean;
}

export function createRunService(deps: {
  sessions: RunSessionRegistry;
  ca: CaProvider;
  audit: AuditLog;
  proxyPort: () => number;
  caBundlePath: string;
  preloadPath: string;
}): RunService {
  return {
    async start({ pid, scope }) {
      const ca = await deps.ca.ensure();
      const session = deps.sessions.create({ pid, scope });
      deps.audit.record('run_start', {
        run: session.id,
        reason: scope.length === 0 ? 'no connections in scope' : scope.map((e) => `${e.provider}(${e.connection})`).join(', '),
      });
      return {
        id: session.id,
        proxyUrl: `http://authsome:${session.token}@127.0.0.1:${deps.proxyPort()}`,
        caCertPath: ca.certPath,
        caBundlePath: deps.caBundlePath,
        preloadPath: deps.preloadPath,
      };
    },
    isLive(id) {
      return deps.sessions.get(id) !== undefined;
    },
    end(id, exitCode) {
      if (!deps.sessions.get(id)) return false;
      // Sessions whose pid vanished are audited by the registry's onEnd hook instead (see runtime.ts).
      deps.audit.record('run_end', { run: id, ...(exitCode !== undefined ? { reason: `exit code ${exitCode}` } : {}) });
      deps.sessions.end(id);
      return true;
    },
  };
}

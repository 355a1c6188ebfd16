// Runs as the server offers them to `authsome run` (and to doctor's self-test): the scope of a run built from the
// connections and the registry, a proxy session for it, the run's own CA (or the stable one) and its trust files, and
// the audit trail (run_start / run_end, naming the program, never its arguments). The proxy URL carries the session's
// secret: it is returned to the command that asked for it and is never logged.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ensurePrivateDir, writeFileAtomic } from '../atomic-file.js';
import type { AuditLog } from '../audit.js';
import type { ConnectionService } from '../connections/service.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { ScopeEntry } from '../providers/routes.js';
import { buildCaBundle, createRunAuthorityForRoutes, listUnanchoredRoutes, type LeafIssuer } from '../proxy/ca.js';
import type { CaProvider } from '../proxy/ca-provider.js';
import type { RequestPolicy, RunProviderStats, RunSession, RunSessionRegistry } from '../proxy/run-sessions.js';
import { createRunPolicy, type PolicyInput } from './policy.js';
import { buildRunScope } from './run-scope.js';

export interface StartRunInput {
  pid?: number;
  /** `--only`: these providers and no others. */
  only?: string[];
  /** `--connection p=name`: this connection of p instead of its default. */
  connections?: Record<string, string>;
  /** The program's name as the person would say it (`python3`), for the activity log; never its arguments. */
  program?: string;
  /** doctor's own round trip: audited apart from the agents' runs. */
  selfTest?: boolean;
  /** `--allow`, `--read-only`, `--max-requests` (or a `--policy` file): what the run may send with a credential. */
  policy?: PolicyInput;
  /**
   * `--stable-ca`: the stored authsome CA (ca.pem) instead of a CA made for this run, for runtimes with a trust store.
   */
  stableCa?: boolean;
  /**
   * The live run whose process asks for this one (an `authsome run` started under another): the new run gets no
   * connection the outer one lacks, and the outer run's rules apply to its requests as well as its own.
   */
  outerRun?: string;
}

export interface StartedRun {
  id: string;
  /** SECRET: contains the per-run proxy password. */
  proxyUrl: string;
  /** The CA the run's children trust (for NODE_EXTRA_CA_CERTS): the run's own, or ca.pem under --stable-ca. */
  caCertPath: string;
  /** The system roots plus that CA (for SSL_CERT_FILE and the like, which replace the trust store). */
  caBundlePath: string;
  preloadPath: string;
  scope: ScopeEntry[];
  /** Providers named in `only` that have no connection (they get nothing). */
  skipped: string[];
  /** Env var names of the providers in scope, for the placeholders. */
  placeholders: string[];
  /** Variable name → its placeholder (shaped like the provider's keys; never a secret). */
  placeholderValues: Record<string, string>;
  /** The run's rules as a person reads them (empty: everything in scope is allowed). */
  policyRules: string[];
  /** Rules that can never apply (their provider is not in this run's scope). */
  policyWarnings: string[];
  /** What the person should know before the command starts (a route that leaves the run's CA unconstrained). */
  warnings: string[];
}

export interface RunService {
  start(input: StartRunInput): Promise<StartedRun>;
  /** Ends the session (audited at once) and resolves once the run's trust files are gone. */
  end(id: string, exitCode?: number): Promise<boolean>;
  /** Whether the session still serves (`run` checks, so that it can say when the ground moved). */
  isLive(id: string): boolean;
  /** The live runs that named their process: whatever descends from one of these pids is the agent's. */
  listLivePids(): { id: string; pid: number }[];
  /** Per provider, what the run's requests did so far (`run --summary`). */
  summarize(id: string): Record<string, RunProviderStats> | undefined;
  /** The CA that terminates TLS for this run's intercepted hosts; undefined for a --stable-ca run (the stable CA). */
  authorityFor(id: string): LeafIssuer | undefined;
  /** Forgets a run's CA and deletes its trust files (on every end of a session, its pid gone included). */
  releaseRun(id: string): Promise<void>;
  /** Deletes every live run's trust files (the server is stopping). */
  close(): Promise<void>;
}

/** The name the activity log shows for doctor's self-test. */
export const SELF_TEST_PROGRAM = 'authsome doctor';

/**
 * What the audit log may say of a program: its file name, cut at the first white space and at 64 characters. An
 * argument or a directory can hold a secret (`curl -H 'Authorization: …'`, a token in a path).
 */
export function buildProgramName(raw: string | undefined): string | undefined {
  const name = raw?.split('/').pop()?.split(/\s/)[0]?.slice(0, 64);
  return name ? name : undefined;
}

export function createRunService(deps: {
  sessions: RunSessionRegistry;
  ca: CaProvider;
  audit: AuditLog;
  connections: ConnectionService;
  registry: ProviderRegistry;
  proxyPort: () => number;
  caBundlePath: string;
  /** Where each run's trust files go, one private directory per run id. */
  runCaDir: string;
  preloadPath: string;
}): RunService {
  const authorities = new Map<string, LeafIssuer>();

  /** A run's CA alone, and the system roots plus it, as 0600 files in a 0700 directory of the run's own. */
  async function writeRunTrustFiles(
    dir: string,
    certPem: string,
  ): Promise<{ caCertPath: string; caBundlePath: string }> {
    await ensurePrivateDir(deps.runCaDir);
    await ensurePrivateDir(dir);
    const caCertPath = join(dir, 'ca.pem');
    const caBundlePath = join(dir, 'bundle.pem');
    await writeFileAtomic(caCertPath, certPem);
    await writeFileAtomic(caBundlePath, buildCaBundle(certPem));
    return { caCertPath, caBundlePath };
  }

  async function releaseRun(id: string): Promise<void> {
    authorities.delete(id);
    await rm(join(deps.runCaDir, id), { recursive: true, force: true });
  }

  async function buildScope(input: StartRunInput, outer: RunSession | undefined) {
    const { rows } = await deps.connections.list();
    const { entries } = await deps.registry.list();
    const byName = new Map(entries.map((e) => [e.definition.name, e]));
    const withinOuter = (provider: string, connection: string) =>
      outer === undefined || outer.scope.some((e) => e.provider === provider && e.connection === connection);
    const providers = rows.map((row) => ({
      entry: byName.get(row.name)!,
      connections: row.connections
        .filter((c) => c.status === 'connected' && withinOuter(row.name, c.connection))
        .map((c) => c.connection),
    }));
    return buildRunScope(providers, { only: input.only, connections: input.connections });
  }

  return {
    async start(input) {
      // A run started under another is never wider than it: an agent could otherwise leave its own run's scope and
      // rules behind by asking for a run of its own.
      const outer = input.outerRun === undefined ? undefined : deps.sessions.get(input.outerRun);
      const { scope, skipped, placeholders, placeholderValues } = await buildScope(input, outer);
      const program = input.selfTest ? SELF_TEST_PROGRAM : buildProgramName(input.program);
      const policy = createRunPolicy(input.policy);
      const inScopeNames = new Set(scope.map((e) => e.provider));
      const policyWarnings = [...new Set(policy.rules.map((r) => r.provider))]
        .filter((p) => !inScopeNames.has(p))
        .map((p) => `--allow rules for ${p} never apply: ${p} is not in this run's scope.`);
      const outerPolicy = outer?.policy;
      const sessionPolicy =
        outerPolicy === undefined
          ? policy.active
            ? { policy }
            : {}
          : { policy: combinePolicies(outerPolicy, policy.active ? policy : undefined) };
      // A regex route with no fixed domain matches hosts in any domain: the command can name one it owns (with a
      // real certificate) and the credential goes there. Bundled definitions have none; a custom one may.
      const matchers = scope.flatMap((e) => e.definition.matchers);
      const warnings = listUnanchoredRoutes(matchers).map(
        (route) =>
          `The route ${route} has no fixed domain suffix: it matches hosts in any domain, so the credential can ` +
          "be sent to a host the command picks, and this run's CA is not limited to its providers' hosts. " +
          `Anchor it to a domain (regex:.*\\.example\\.com).`,
      );
      if (outer !== undefined)
        warnings.push(
          "This run was started by a process of another live run: it keeps to that run's connections and rules.",
        );
      let trust: { caCertPath: string; caBundlePath: string };
      let session: RunSession;
      if (input.stableCa) {
        const ca = await deps.ca.ensure();
        session = deps.sessions.create({ pid: input.pid, scope, program, ...sessionPolicy });
        trust = { caCertPath: ca.certPath, caBundlePath: deps.caBundlePath };
      } else {
        const { authority } = await createRunAuthorityForRoutes(matchers);
        // Registered in the same tick as the session, whose token is handed out only below: no CONNECT of this run
        // can find the session without its CA.
        session = deps.sessions.create({ pid: input.pid, scope, program, ...sessionPolicy });
        authorities.set(session.id, authority);
        try {
          trust = await writeRunTrustFiles(join(deps.runCaDir, session.id), authority.certPem);
        } catch (err) {
          deps.sessions.end(session.id);
          await releaseRun(session.id);
          throw err;
        }
      }
      const inScope =
        scope.length === 0 ? 'no connections in scope' : scope.map((e) => `${e.provider}(${e.connection})`).join(', ');
      deps.audit.record('run_start', {
        run: session.id,
        program,
        reason: input.selfTest ? `self-test: ${inScope}` : inScope,
      });
      return {
        id: session.id,
        proxyUrl: `http://authsome:${session.token}@127.0.0.1:${deps.proxyPort()}`,
        ...trust,
        preloadPath: deps.preloadPath,
        scope,
        skipped,
        placeholders,
        placeholderValues,
        policyRules: policy.describe(),
        policyWarnings,
        warnings,
      };
    },
    summarize(id) {
      const session = deps.sessions.get(id);
      return session === undefined ? undefined : Object.fromEntries(session.stats);
    },
    isLive(id) {
      return deps.sessions.get(id) !== undefined;
    },
    listLivePids() {
      return deps.sessions.list().flatMap((s) => (s.pid === undefined ? [] : [{ id: s.id, pid: s.pid }]));
    },
    async end(id, exitCode) {
      const session = deps.sessions.get(id);
      if (!session) return false;
      const { program } = session;
      // Sessions whose pid vanished are audited by the registry's onEnd hook instead (see runtime.ts).
      deps.audit.record('run_end', {
        run: id,
        program,
        ...(exitCode !== undefined ? { reason: `exit code ${exitCode}` } : {}),
      });
      deps.sessions.end(id);
      await releaseRun(id);
      return true;
    },
    authorityFor(id) {
      return authorities.get(id);
    },
    releaseRun,
    async close() {
      await Promise.all([...authorities.keys()].map((id) => releaseRun(id)));
    },
  };
}

/** The outer run's rules first (its request budget counts the inner run's requests too), then the inner run's own. */
function combinePolicies(outer: RequestPolicy, inner: RequestPolicy | undefined): RequestPolicy {
  return {
    check(provider, method, path) {
      const decision = outer.check(provider, method, path);
      return decision.allowed && inner !== undefined ? inner.check(provider, method, path) : decision;
    },
  };
}

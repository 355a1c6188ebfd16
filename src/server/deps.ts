// What the web adapter receives from the composition root (runtime.ts): services, not construction details.
import type { AuditLog } from '../audit.js';
import type { AuditCheckpointer } from '../audit-checkpoint.js';
import type { ConnectionService } from '../connections/service.js';
import type { OAuthLoginService } from '../oauth/oauth-login.js';
import type { HomePaths } from '../paths.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { RunService } from '../runs/run-service.js';
import type { Vault } from '../vault/vault.js';

export interface ServerInfo {
  url: string;
  port: number;
  proxyPort: number | null;
  pid: number;
  startedAt: string;
}

export interface ServerDeps {
  version: string;
  paths: HomePaths;
  vault: Vault;
  registry: ProviderRegistry;
  connections: ConnectionService;
  oauth: OAuthLoginService;
  audit: AuditLog;
  /** The audit log's hash chain: its checkpoint in the vault, and verification. */
  auditChain: AuditCheckpointer;
  runs: RunService;
  info(): ServerInfo;
  /** Stops the server after the current response is sent. */
  requestShutdown(): void;
}

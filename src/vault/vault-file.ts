// vault.json on disk: parse and check its shape, and write it atomically with the previous version kept as
// vault.json.bak. Reading never repairs anything: a file that does not parse is reported, never overwritten.
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../atomic-file.js';
import { isIntegritySeal, type IntegritySeal } from './integrity.js';
import { isKdfParams, type KdfParams } from './kdf.js';
import { isSealed, type Sealed } from './seal.js';

export const VAULT_FORMAT_VERSION = 1;

export type VaultMode = 'keyfile' | 'passphrase';

export interface VaultFileData {
  version: number;
  mode: VaultMode;
  kdf: KdfParams;
  /** The data key, sealed under the KDF key. */
  key: Sealed;
  records: Record<string, Sealed>;
  /**
   * Absent only in a vault written before the seal existed (accepted once, sealed on the next write); the data
   * key's wrapping says which kind of vault it is, so stripping the field is detected (see vault.ts).
   */
  integrity?: IntegritySeal;
}

export type VaultFileRead =
  | { kind: 'missing' }
  | { kind: 'ok'; data: VaultFileData; text: string }
  | { kind: 'damaged'; detail: string };

export async function loadVaultFile(path: string): Promise<VaultFileRead> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    return { kind: 'damaged', detail: `it cannot be read (${(err as Error).message})` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'damaged', detail: 'it is not valid JSON' };
  }
  const problem = findShapeProblem(value);
  if (problem) return { kind: 'damaged', detail: problem };
  return { kind: 'ok', data: value as VaultFileData, text };
}

function findShapeProblem(value: unknown): string | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'it does not contain a JSON object';
  const v = value as Record<string, unknown>;
  if (v.version !== VAULT_FORMAT_VERSION) return `unsupported format version ${JSON.stringify(v.version)}`;
  if (v.mode !== 'keyfile' && v.mode !== 'passphrase') return 'the mode field is missing or unknown';
  if (!isKdfParams(v.kdf)) return 'the kdf parameters are missing or invalid';
  if (!isSealed(v.key)) return 'the wrapped data key is missing or malformed';
  if (!v.records || typeof v.records !== 'object' || Array.isArray(v.records)) return 'the records field is missing';
  for (const [id, sealed] of Object.entries(v.records as Record<string, unknown>)) {
    if (!isSealed(sealed)) return `record '${id}' is malformed`;
  }
  if (v.integrity !== undefined && !isIntegritySeal(v.integrity)) return 'its integrity seal is malformed';
  return undefined;
}

export function serializeVaultFile(data: VaultFileData): string {
  return `${JSON.stringify(data, null, 2)}\n`;
}

/**
 * Writes vault.json, first saving the version it replaces as vault.json.bak. Both steps are atomic, so a
 * crash at any point leaves a vault.json that opens with every record of the last completed write.
 */
export async function writeVaultFile(
  paths: { vault: string; vaultBackup: string },
  text: string,
  previousText: string | undefined,
): Promise<void> {
  if (previousText !== undefined) await writeFileAtomic(paths.vaultBackup, previousText);
  await writeFileAtomic(paths.vault, text);
}

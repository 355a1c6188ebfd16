// Fails `npm run lint` on any source line over 120 characters: Biome's formatter wraps code at that width but leaves
// long strings and comments as they are. Usage: node scripts/check-line-length.mjs [root] (default: this package).
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX_CHARACTERS = 120;
const DIRECTORIES = ['src', 'test', 'bench', 'scripts'];
const EXTENSIONS = ['.ts', '.mjs', '.js', '.eta', '.css'];
// Build output and installed packages are not ours to wrap.
const SKIPPED_DIRECTORIES = new Set(['node_modules', 'dist', 'test-artifacts', 'coverage']);

/** Every file under `dir` with a checked extension, in a stable order; a missing directory has none. */
function listSourceFiles(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    if (error.code === 'ENOENT') return [];
    throw error;
  }
  return entries
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return SKIPPED_DIRECTORIES.has(entry.name) ? [] : listSourceFiles(path);
      return entry.isFile() && EXTENSIONS.some((ext) => entry.name.endsWith(ext)) ? [path] : [];
    });
}

/**
 * A line that is one token (a URL or a base64 blob, perhaps in a comment or quotes) cannot be broken without
 * changing it, so it is allowed: nothing but its leading comment marker separates its characters.
 */
function isUnbreakable(line) {
  return !/\s/.test(line.trim().replace(/^(\/\/|\/?\*+)\s*/, ''));
}

/** `file:line: N characters` for every line of `root`'s sources over the limit (counted in code points). */
export function findLongLines(root) {
  const found = [];
  for (const file of DIRECTORIES.flatMap((dir) => listSourceFiles(join(root, dir)))) {
    const lines = readFileSync(file, 'utf8').split(/\r?\n/);
    lines.forEach((line, index) => {
      const length = [...line].length;
      if (length > MAX_CHARACTERS && !isUnbreakable(line)) {
        found.push(`${relative(root, file)}:${index + 1}: ${length} characters`);
      }
    });
  }
  return found;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url));
  const found = findLongLines(root);
  for (const entry of found) console.log(entry);
  if (found.length > 0) {
    console.error(`${found.length} line(s) over ${MAX_CHARACTERS} characters: split the string or rewrap the comment.`);
    process.exitCode = 1;
  }
}

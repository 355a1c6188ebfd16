// Gives tests the compiled preload (dist/proxy/preload.js): `npm test` builds it first; when it is missing or older
// than its source (a bare `vitest run`), this transpiles that one file the way tsc would.
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ts from 'typescript';
import { packagePaths } from '../../../src/paths.js';

export async function ensurePreloadBuilt(): Promise<string> {
  const source = join(packagePaths.root, 'src', 'proxy', 'preload.ts');
  const output = join(packagePaths.root, 'dist', 'proxy', 'preload.js');
  if (existsSync(output) && statSync(output).mtimeMs >= statSync(source).mtimeMs) return output;
  const { outputText } = ts.transpileModule(await readFile(source, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    fileName: source,
  });
  await mkdir(join(packagePaths.root, 'dist', 'proxy'), { recursive: true });
  // Test files run in parallel workers: write aside and rename, so no one imports half a file.
  const tmp = `${output}.${process.pid}.tmp`;
  await writeFile(tmp, outputText);
  await rename(tmp, output);
  return output;
}

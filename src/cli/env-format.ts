// Rendering exported variables: env, shell, dotenv, json. Pure; quoting makes
// `eval "$(authsome export …)"` safe for any value.

export type ExportFormat = 'env' | 'shell' | 'dotenv' | 'json';
export const EXPORT_FORMATS: ExportFormat[] = ['env', 'shell', 'dotenv', 'json'];

const SAFE_SHELL = /^[A-Za-z0-9_./:@%+=,-]+$/;

/** POSIX single-quoting when the value has anything outside the safe set (an empty value becomes ''). */
export function quoteShellValue(value: string): string {
  if (SAFE_SHELL.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Double-quoted dotenv value: backslash, quote, newline, carriage return and $ escaped. */
export function quoteDotenvValue(value: string): string {
  const escaped = value
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\$/g, '\\$');
  return `"${escaped}"`;
}

export function formatVariables(format: ExportFormat, variables: { name: string; value: string }[]): string {
  switch (format) {
    case 'env':
      return variables.map((v) => `${v.name}=${quoteShellValue(v.value)}`).join('\n');
    case 'shell':
      return variables.map((v) => `export ${v.name}=${quoteShellValue(v.value)}`).join('\n');
    case 'dotenv':
      return variables.map((v) => `${v.name}=${quoteDotenvValue(v.value)}`).join('\n');
    case 'json':
      return JSON.stringify(Object.fromEntries(variables.map((v) => [v.name, v.value])), null, 2);
  }
}

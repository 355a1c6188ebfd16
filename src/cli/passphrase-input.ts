// Reading a passphrase for unlock / passphrase set|remove: --passphrase-stdin, AUTHSOME_PASSPHRASE, a masked
// prompt on a terminal, else the first line of stdin.
import { errors } from '../errors.js';
import { isInteractive, promptSecret, readStdinLine } from './prompt.js';

export async function readPassphrase(options: {
  fromStdin: boolean;
  label: string;
  allowEnv: boolean;
}): Promise<string> {
  let value: string;
  if (options.fromStdin) value = await readStdinLine();
  else if (options.allowEnv && process.env.AUTHSOME_PASSPHRASE) value = process.env.AUTHSOME_PASSPHRASE;
  else if (isInteractive()) value = await promptSecret(options.label);
  else value = await readStdinLine();
  if (value === '')
    throw errors.invalidInput('No passphrase was entered.', 'Type the passphrase, or pipe it with --passphrase-stdin.');
  return value;
}

export const passphraseStdinArg = {
  'passphrase-stdin': { type: 'boolean', description: 'Read the passphrase from the first line of stdin' },
} as const;

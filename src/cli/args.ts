/** Argument parsing shared by the commands: node:util's parseArgs, strict, with messages for humans. */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError } from './io.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** What `parse` returns: option values typed from `O`, and the positional arguments. */
export type Parsed<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

/** parseArgs in strict mode; unknown options and missing values become a UsageError. */
export function parse<O extends Options>(argv: readonly string[], options: O): Parsed<O> {
  try {
    return parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ');
    // node adds a hint about positionals after '--' that does not apply here; keep what comes before it.
    throw new UsageError(message.split('. To specify a positional')[0]?.replace(/\.$/, '') ?? message);
  }
}

/** True when argv asks for help anywhere before a `--`. */
export function wantsHelp(argv: readonly string[]): boolean {
  for (const arg of argv) {
    if (arg === '--') return false;
    if (arg === '--help' || arg === '-h') return true;
  }
  return false;
}

/** A whole number within bounds, from an option value. */
export function integerOption(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const value = /^-?\d+$/.test(raw.trim()) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`--${name} expects an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

/** Values of a repeatable option, each also split on commas: `--extra a,b --extra c` → [a, b, c]. */
export function listOption(raw: readonly string[] | undefined): string[] {
  return (raw ?? [])
    .flatMap((value) => value.split(','))
    .map((value) => value.trim())
    .filter((value) => value !== '');
}

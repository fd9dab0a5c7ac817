import type { Command } from 'commander';
import { redisUrlFromEnv } from '@temps/redis';

/** Longest run of non-space characters a message repeats from the input before shortening it. */
const MAX_ECHO = 60;

/**
 * A setting that cannot be used; its message is the one line the user sees. A value quoted back
 * is shortened, so a 100 kB argument does not come back as a 100 kB error.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';

  constructor(message: string) {
    super(
      message.replace(
        new RegExp(`\\S{${MAX_ECHO + 1},}`, 'g'),
        (long) => `${long.slice(0, MAX_ECHO - 20)}…(${long.length} characters)`,
      ),
    );
  }
}

const BOOLEANS: Record<string, boolean> = {
  true: true,
  '1': true,
  yes: true,
  false: false,
  '0': false,
  no: false,
};

/**
 * Parses a command line with commander, turning its complaints (unknown option, bad value,
 * conflicting options, with its "did you mean" hint) into a one-line ConfigError. An option's
 * variable set to the empty string counts as unset (a `.env` line such as `PRODUCER_SEED=`, or
 * compose passing an empty value), as every other setting here treats it.
 */
export function parseCommandLine(program: Command, argv: string[]): void {
  for (const option of program.options) {
    // Commander reads option variables from process.env itself and takes '' as a value.
    if (option.envVar && process.env[option.envVar] === '') delete process.env[option.envVar];
  }
  program.exitOverride().configureOutput({ writeErr: () => undefined });
  try {
    program.parse(argv, { from: 'user' });
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    if (code === 'commander.helpDisplayed' || code === 'commander.version') throw error;
    throw new ConfigError(message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' '));
  }
}

/** A boolean environment variable must say what it means (commander alone treats "false" as set). */
export function booleanFromEnv(name: string, raw: string | undefined): boolean | undefined {
  if (raw === undefined || raw === '') return undefined;
  const value = BOOLEANS[raw.trim().toLowerCase()];
  if (value === undefined) throw new ConfigError(`${name} must be true or false, got "${raw}".`);
  return value;
}

export function portFromEnv(raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1 || Number(raw) > 65_535) {
    throw new ConfigError(`PORT must be a port number (1-65535), got "${raw}".`);
  }
  return Number(raw);
}

export function redisUrlSetting(env: NodeJS.ProcessEnv): string {
  try {
    return redisUrlFromEnv(env);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}

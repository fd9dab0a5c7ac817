import { Command, Help, Option } from 'commander';
import { z } from 'zod';
import { RedisConfigError, redisUrlFromParts, validateRedisUrl } from '@temps/redis';
import { ExitRequest } from './exit-request';

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

/** Environment variables by name, as `process.env` holds them (passed in, never read here). */
export type Env = Readonly<Record<string, string | undefined>>;

/** A command-line option and the variable it sets (the command line wins over the environment). */
export interface OptionSpec {
  variable: string;
  flags: string;
  description: string;
  /** Shown in the help only: the schema supplies the value. */
  shownDefault?: unknown;
  /** How the help shows `shownDefault`, if not as JSON. */
  shownDefaultDescription?: string;
}

/**
 * The settings a service reads, by variable name: its environment, where a variable set to the
 * empty string counts as unset (a `.env` line such as `PRODUCER_SEED=`, or compose passing an
 * empty value), overridden by what its command line sets (options under their variables' names,
 * positional arguments under their own, always present so the environment cannot supply them).
 * Every service schema starts here (see `settings`).
 */
export const commandLineOverEnvironment = z
  .object({
    env: z.record(z.string(), z.string().optional()),
    commandLine: z.record(z.string(), z.string().optional()),
  })
  .transform(({ env, commandLine }) => ({
    ...Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')),
    ...commandLine,
  }));

/** A service's schema over its environment and command line: `fields` see the merged variables. */
export function settings<Out>(fields: z.ZodType<Out, Record<string, string | undefined>>) {
  return commandLineOverEnvironment.pipe(fields);
}

export type Settings<Out> = ReturnType<typeof settings<Out>>;

/**
 * `${what} must be a whole number from ${min} to ${max}.`: digits only (surrounding spaces
 * allowed), no sign, exponent or fraction.
 */
export function wholeNumber(min: number, max: number, what: string) {
  const error = `${what} must be a whole number from ${min} to ${max}.`;
  return z
    .string()
    .trim()
    .regex(/^\d+$/, { error })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { error });
}

/** Digits naming a TCP port (1-65535); `line` says what is wrong with `raw`. */
export function portNumber(line: (raw: string) => string) {
  return z
    .string()
    .refine((raw) => /^\d{1,5}$/.test(raw) && Number(raw) >= 1 && Number(raw) <= 65_535, {
      error: (issue) => line(String(issue.input)),
    })
    .transform(Number);
}

/** `PORT`, the HTTP port for /health and /metrics. */
export function httpPort(fallback: number) {
  return portNumber((raw) => `PORT must be a port number (1-65535), got "${raw}".`).default(
    fallback,
  );
}

const BOOLEANS = new Map([
  ['true', true],
  ['1', true],
  ['yes', true],
  ['false', false],
  ['0', false],
  ['no', false],
]);

/** A boolean variable says what it means: true/false, 1/0, yes/no (an option sets it to true). */
export function trueOrFalse(variable: string) {
  return z
    .string()
    .refine((raw) => BOOLEANS.has(raw.trim().toLowerCase()), {
      error: (issue) => `${variable} must be true or false, got "${String(issue.input)}".`,
    })
    .transform((raw) => BOOLEANS.get(raw.trim().toLowerCase())!)
    .default(false);
}

/** A string `parse` turns into a value, its typed error (one line) becoming the issue. */
export function parsedBy<T>(parse: (raw: string) => T, failure: new (...args: never[]) => Error) {
  return z.string().transform((raw, ctx): T => {
    try {
      return parse(raw);
    } catch (error) {
      if (!(error instanceof failure)) throw error;
      ctx.addIssue({ code: 'custom', message: error.message, input: raw });
      return z.NEVER;
    }
  });
}

/** Where Redis is (see @temps/redis): spread into a service's fields, then read with `redisUrl`. */
export const REDIS_VARIABLES = {
  REDIS_URL: z.string().optional(),
  REDIS_HOST: z.string().optional(),
  REDIS_PORT: z.string().optional(),
  REDIS_USER: z.string().optional(),
  REDIS_PASSWORD: z.string().optional(),
  REDIS_CLUSTER_NODES: z.string().optional(),
};

type RedisVariables = z.output<z.ZodObject<typeof REDIS_VARIABLES>>;

const redisPort = portNumber((raw) => `REDIS_PORT must be a port number (1-65535), got "${raw}"`);
const redisUrlText = parsedBy(validateRedisUrl, RedisConfigError);

/** The Redis URL the variables name (REDIS_URL wins over the pieces), or an issue saying why not. */
export function redisUrl(variables: RedisVariables, ctx: z.core.$RefinementCtx): string {
  const { REDIS_URL, REDIS_HOST, REDIS_PORT, REDIS_USER, REDIS_PASSWORD } = variables;
  if (REDIS_URL) return within(redisUrlText, REDIS_URL, ctx);
  const port = REDIS_PORT === undefined ? undefined : within(redisPort, REDIS_PORT, ctx);
  if (port === z.NEVER) return z.NEVER;
  const parts = { host: REDIS_HOST, port, user: REDIS_USER, password: REDIS_PASSWORD };
  return within(redisUrlText, redisUrlFromParts(parts), ctx);
}

/**
 * REDIS_CLUSTER_NODES: more cluster nodes to start from, `host:port` separated by commas (empty or
 * unset: none), or an issue saying why not. REDIS_URL's user, password and TLS apply to every node.
 */
export function redisClusterNodes(variables: RedisVariables, ctx: z.core.$RefinementCtx): string[] {
  const nodes = (variables.REDIS_CLUSTER_NODES ?? '')
    .split(',')
    .map((node) => node.trim())
    .filter((node) => node !== '');
  for (const node of nodes) {
    const port = /^[^\s:/@]+:(\d{1,5})$/.exec(node)?.[1];
    if (port === undefined || Number(port) < 1 || Number(port) > 65_535) {
      ctx.addIssue({
        code: 'custom',
        message: `REDIS_CLUSTER_NODES must list host:port pairs separated by commas, got "${node}"`,
      });
      return z.NEVER;
    }
  }
  return nodes;
}

/** `value` checked by `schema` inside another schema's transform, its first issue becoming ctx's. */
function within<T>(schema: z.ZodType<T>, value: unknown, ctx: z.core.$RefinementCtx): T {
  const checked = schema.safeParse(value);
  if (checked.success) return checked.data;
  ctx.addIssue({ code: 'custom', message: checked.error.issues[0].message });
  return z.NEVER;
}

/** An issue saying `variable` cannot be set together with `other` (the line names how each was set). */
export function conflict(variable: string, other: string) {
  return {
    code: 'custom' as const,
    path: [variable],
    message: `${variable} cannot be used with ${other}`,
    params: { conflictsWith: other },
  };
}

/** Params for an issue whose message ends the process on stdout (as the seed's usage hints do). */
export const EXIT = { exit: true };

/** A service's command line: commander's program (name, description, arguments) and its options. */
export interface CommandLine {
  program: Command;
  options?: readonly OptionSpec[];
}

/**
 * Reads a service's settings. Commander parses `argv` only (an unknown option, a missing or extra
 * argument is refused in its words, with its "did you mean" hint; --help prints the help and throws
 * commander's helpDisplayed); `schema` then checks the environment and command line together.
 * Throws ConfigError with one line naming the option or variable and what it accepts, or
 * ExitRequest for an issue with EXIT params.
 */
export function readSettings<T>(
  schema: Settings<T>,
  { program, options: specs = [] }: CommandLine,
  argv: readonly string[],
  env: Env,
): T {
  const options = new Map<string, Option>();
  for (const spec of specs) {
    const option = new Option(spec.flags, spec.description);
    if (spec.shownDefault !== undefined) {
      option.default(spec.shownDefault, spec.shownDefaultDescription);
    }
    program.addOption(option);
    options.set(spec.variable, option);
  }
  parseCommandLine(program, argv, options);

  const given: Record<string, string | undefined> = {};
  for (const [variable, option] of options) {
    const key = option.attributeName();
    if (program.getOptionValueSource(key) !== 'cli') continue;
    given[variable] = option.isBoolean() ? 'true' : String(program.getOptionValue(key));
  }
  program.registeredArguments.forEach((argument, i) => {
    given[argument.name()] = program.processedArgs[i] as string | undefined;
  });

  // A copy: process.env itself is not a plain object, which zod's records require.
  const result = schema.safeParse({ env: { ...env }, commandLine: given });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue.code === 'custom' && issue.params?.exit) throw new ExitRequest([issue.message]);
  throw new ConfigError(lineFor(issue, given, env, options));
}

function parseCommandLine(
  program: Command,
  argv: readonly string[],
  options: ReadonlyMap<string, Option>,
): void {
  const variableOf = new Map([...options].map(([variable, option]) => [option, variable]));
  program
    .configureHelp({
      // The help names each option's variable as commander would if it read the variable itself.
      optionDescription(this: Help, option: Option): string {
        const variable = variableOf.get(option);
        const shown = variable
          ? Object.assign(Object.create(option), { envVar: variable })
          : option;
        return Help.prototype.optionDescription.call(this, shown);
      },
    })
    .exitOverride()
    .configureOutput({ writeErr: () => undefined });
  try {
    program.parse([...argv], { from: 'user' });
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    if (code === 'commander.helpDisplayed' || code === 'commander.version') throw error;
    throw new ConfigError(message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' '));
  }
}

/** The line for an issue: an option's bad value is framed as commander frames it. */
function lineFor(
  issue: z.core.$ZodIssue,
  given: Readonly<Record<string, string | undefined>>,
  env: Env,
  options: ReadonlyMap<string, Option>,
): string {
  const [name] = issue.path;
  const option = typeof name === 'string' ? options.get(name) : undefined;
  if (typeof name !== 'string' || !option) return issue.message;
  const onCommandLine = (variable: string) => given[variable] !== undefined;
  const other = issue.code === 'custom' ? (issue.params?.conflictsWith as string) : undefined;
  if (other !== undefined) {
    const otherOption = options.get(other)!;
    if (!onCommandLine(name)) {
      return `${option.long} (${name}) cannot be used with ${otherOption.long} (${other}).`;
    }
    const otherSet = onCommandLine(other)
      ? `option '${otherOption.flags}'`
      : `environment variable '${other}'`;
    return `option '${option.flags}' cannot be used with ${otherSet}`;
  }
  if (option.isBoolean() || issue.path.length > 1) return issue.message;
  return onCommandLine(name)
    ? `option '${option.flags}' argument '${given[name]}' is invalid. ${issue.message}`
    : `option '${option.flags}' value '${env[name]}' from env '${name}' is invalid. ${issue.message}`;
}

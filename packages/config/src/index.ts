import { accessSync, constants, statSync } from 'node:fs';
import { z } from 'zod';

export { z };

/** Every problem with the environment, reported at once, each with its variable's name. */
export class ConfigError extends Error {
  override name = 'ConfigError';

  constructor(readonly issues: readonly string[]) {
    super(`invalid configuration:\n${issues.map((issue) => `  - ${issue}`).join('\n')}`);
  }
}

/**
 * Validates `env` against a zod object schema whose keys are environment variable names.
 * Empty strings count as unset, so `FOO= cmd` falls back to the default.
 */
export function loadEnv<S extends z.ZodObject>(
  schema: S,
  env: Readonly<Record<string, string | undefined>>,
): Readonly<z.infer<S>> {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`));
  }
  return Object.freeze(result.data);
}

// Digits only: Number(' ') is 0 and Number('0x10') is 16, neither of which anyone means.
const wholeNumber = () => z.string().regex(/^\d+$/, { message: 'expected a whole number' }).transform(Number);

/** A TCP port; 0 asks the OS for a free one. */
export const port = (fallback: number) => wholeNumber().pipe(z.number().max(65535)).default(fallback);

/** The port of a listener that is off unless configured: unset or `off` for none, 0 for any free port. */
export const optionalPort = () =>
  z
    .string()
    .regex(/^(off|\d+)$/, { message: 'expected a port (0: any free one) or off' })
    .transform((value) => (value === 'off' ? undefined : Number(value)))
    .pipe(z.number().max(65535).optional())
    .optional();

/** A positive whole number with a default, e.g. a size or a duration in ms. */
export const positiveInt = (fallback: number) =>
  wholeNumber().pipe(z.number().positive().max(Number.MAX_SAFE_INTEGER)).default(fallback);

/** "true"/"false" (also 1/0, yes/no), with no default: `.optional()` tells unset from false. */
export const booleanFlag = () =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
    .transform((value) => value === 'true' || value === '1' || value === 'yes');

/** A boolean flag with a default. */
export const flag = (fallback: boolean) => booleanFlag().default(fallback);

const wss = () => z.url({ protocol: /^wss$/, message: 'expected a wss:// URL' });

/** A wss:// URL. */
export const wssUrl = (fallback: string) => wss().default(fallback);

/**
 * One wss:// URL or several, separated by commas (the nodes of a cluster, tried in turn), whose
 * default depends on other variables: undefined when unset.
 */
export const optionalWssUrls = () =>
  z
    .string()
    .transform((spec, ctx) => {
      const urls = spec.split(',').map((url) => url.trim());
      const bad = urls.filter((url) => !wss().safeParse(url).success);
      if (bad.length > 0) {
        ctx.addIssue({
          code: 'custom',
          message: `expected wss:// URLs separated by commas (not ${bad.map((url) => JSON.stringify(url.slice(0, 100))).join(', ')})`,
        });
        return z.NEVER;
      }
      if (new Set(urls).size !== urls.length) {
        ctx.addIssue({ code: 'custom', message: 'the same URL is listed twice' });
        return z.NEVER;
      }
      return urls;
    })
    .optional();

/**
 * A path to a regular file this process can read, checked when the configuration loads, so a
 * typo or a permission problem is reported with the variable's name before anything starts.
 */
export const readableFile = () =>
  z.string().superRefine((path, ctx) => {
    let problem: string | undefined;
    try {
      if (statSync(path).isFile()) accessSync(path, constants.R_OK);
      else problem = 'not a regular file';
    } catch (err) {
      problem = (err as NodeJS.ErrnoException).code ?? String(err);
    }
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `cannot read ${path} (${problem})` });
  });

export const LOG_LEVEL = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

/**
 * Loads the config or, on error, prints every problem to stderr and exits with status 2. With
 * `--check-config` on the command line it stops there: "configuration ok" and exit 0. For
 * `main.ts` only: library code throws ConfigError instead.
 */
export function loadConfigOrExit<T>(load: () => T, argv: readonly string[] = process.argv): T {
  let config: T;
  try {
    config = load();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  if (argv.includes('--check-config')) {
    process.stdout.write('configuration ok\n');
    process.exit(0);
  }
  return config;
}

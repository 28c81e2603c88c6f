import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { HeraldError, HeraldErrorCode, isHeraldError } from '@herald/contracts';
import {
  DEFAULT_CLOCK_TOLERANCE_S,
  JWT_ALGORITHMS,
  createKeyRing,
  envInt,
  envList,
  verifyAccessToken,
  type Identity,
  type JwtAlgorithm,
  type KeyRing,
  type VerificationKeyInput,
} from '@herald/core';

/** How a socket node verifies access tokens (besides `jwtSecret`, the default HS key). */
export interface JwtOptions {
  /** Algorithms accepted at all; `none` cannot be listed. @default ['HS256'] */
  algorithms?: JwtAlgorithm[];
  /** PEM public key (RSA or EC): the default key for RS/ES tokens without a `kid`. */
  publicKey?: string;
  /**
   * More keys, chosen by the token's `kid` header, so keys can rotate: list the old
   * and the new one side by side, then drop the old one once its tokens expired.
   * A token whose `kid` names none of them is refused.
   */
  keys?: Array<VerificationKeyInput & { kid: string }>;
  /** Accepted `iss` values; unset or empty: not checked. */
  issuer?: string[];
  /** Accepted `aud` values; unset or empty: not checked. */
  audience?: string[];
  /** Clock skew tolerated on `exp` and `nbf`, and how long after `exp` a live socket may stay. @default 5 */
  clockToleranceS?: number;
  /** Shortest HS secret in bytes; only the local dev stack lowers it. @default 32 */
  minSecretBytes?: number;
}

/** The one verification path of a node: handshake and in-band `herald:auth` both go through `verify`. */
export interface TokenVerifier {
  keys: KeyRing;
  clockToleranceS: number;
  verify: (token: string | undefined) => Identity;
}

/** What the env names each option, so a start-up error names the variable to fix. */
export interface KeyLabels {
  secret: string;
  publicKey: string;
  keys: string;
  algorithms: string;
}

const OPTION_LABELS: KeyLabels = {
  secret: 'jwtSecret',
  publicKey: 'jwt.publicKey',
  keys: 'jwt.keys',
  algorithms: 'jwt.algorithms',
};

/**
 * Builds the verifier of a node from its options. Throws an `invalid_config`
 * HeraldError naming the option (or, with env labels, the variable) at fault.
 */
export function createTokenVerifier(
  jwtSecret: string | undefined,
  options: JwtOptions = {},
  labels: KeyLabels = OPTION_LABELS,
): TokenVerifier {
  const inputs: VerificationKeyInput[] = [];
  if (jwtSecret !== undefined) inputs.push({ secret: jwtSecret, label: labels.secret });
  if (options.publicKey !== undefined) inputs.push({ publicKey: options.publicKey, label: labels.publicKey });
  (options.keys ?? []).forEach((key, index) => {
    inputs.push({ ...key, label: key.label ?? `${labels.keys}[${index}]` });
  });
  if (inputs.length === 0) {
    const message = `required: an HS secret of at least ${options.minSecretBytes ?? 32} bytes, or a public key (${labels.publicKey}) or keys (${labels.keys}) for RS/ES tokens`;
    throw new HeraldError(HeraldErrorCode.invalidConfig, `${labels.secret}: ${message}`, {
      issues: [{ path: labels.secret, message }],
    });
  }
  const clockToleranceS = options.clockToleranceS ?? DEFAULT_CLOCK_TOLERANCE_S;
  if (!Number.isInteger(clockToleranceS) || clockToleranceS < 0 || clockToleranceS > 300) {
    throw new RangeError(`jwt.clockToleranceS must be an integer from 0 to 300, got ${clockToleranceS}`);
  }
  let keys: KeyRing;
  try {
    keys = createKeyRing({
      keys: inputs,
      algorithms: options.algorithms,
      minSecretBytes: options.minSecretBytes,
    });
  } catch (error) {
    if (!isHeraldError(error, HeraldErrorCode.invalidConfig)) throw error;
    // The ring names its own paths `algorithms` / `keys`; say which option (or variable) that is.
    const issues = error.issues.map((issue) => ({
      path:
        issue.path === 'algorithms' ? labels.algorithms : issue.path === 'keys' ? labels.keys : issue.path,
      message: issue.message,
    }));
    throw new HeraldError(
      HeraldErrorCode.invalidConfig,
      issues.map((i) => `${i.path}: ${i.message}`).join('; '),
      { issues, cause: error },
    );
  }
  const verifyOptions = {
    keys,
    issuer: options.issuer,
    audience: options.audience,
    clockToleranceS,
  };
  return {
    keys,
    clockToleranceS,
    verify: (token) => verifyAccessToken(token, verifyOptions),
  };
}

/** PEM text from an env file often has its newlines written as `\n`. */
function unescapePem(value: string): string {
  return value.includes('\\n') ? value.replace(/\\n/g, '\n') : value;
}

function readPemFile(path: string, ctx: z.RefinementCtx): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    ctx.addIssue({
      code: 'custom',
      message: `could not read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    });
    return z.NEVER;
  }
}

/** One entry of `HERALD_JWT_KEYS`: a kid and exactly one of secret, publicKey, publicKeyFile. */
const JwtKeyEntry = z
  .object({
    kid: z.string().min(1).max(200),
    secret: z.string().optional(),
    publicKey: z.string().optional(),
    publicKeyFile: z.string().min(1).optional(),
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).optional(),
  })
  .strict()
  .refine(
    (entry) =>
      [entry.secret, entry.publicKey, entry.publicKeyFile].filter((v) => v !== undefined).length === 1,
    'expected exactly one of secret, publicKey or publicKeyFile',
  )
  .transform((entry, ctx): VerificationKeyInput & { kid: string } => {
    const publicKey =
      entry.publicKeyFile !== undefined
        ? readPemFile(entry.publicKeyFile, ctx)
        : entry.publicKey !== undefined
          ? unescapePem(entry.publicKey)
          : undefined;
    return {
      kid: entry.kid,
      ...(entry.secret !== undefined ? { secret: entry.secret } : {}),
      ...(publicKey !== undefined ? { publicKey } : {}),
      ...(entry.algorithms ? { algorithms: entry.algorithms } : {}),
    };
  });

/**
 * The JWT variables of a socket node's environment, spread into its schema.
 * File variables are read while parsing, so a missing file is a start-up error
 * that names the variable; `HERALD_JWT_PUBLIC_KEY_FILE` comes out as the PEM text.
 */
export const jwtEnv = {
  /** The default HS key; at least 32 bytes (checked with the other keys in `checkJwtEnv`). */
  JWT_SECRET: z.string().optional(),
  HERALD_JWT_ALGORITHMS: envList
    .pipe(z.array(z.enum(JWT_ALGORITHMS, { error: `expected ${JWT_ALGORITHMS.join(', ')}` })).min(1))
    .default(['HS256']),
  HERALD_JWT_PUBLIC_KEY: z.string().transform(unescapePem).optional(),
  HERALD_JWT_PUBLIC_KEY_FILE: z.string().transform(readPemFile).optional(),
  /** JSON array of `{ kid, secret | publicKey | publicKeyFile, algorithms? }`. */
  HERALD_JWT_KEYS: z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({
          code: 'custom',
          message: 'expected a JSON array of { kid, secret | publicKey | publicKeyFile }',
        });
        return z.NEVER;
      }
    })
    .pipe(z.array(JwtKeyEntry).min(1))
    .optional(),
  HERALD_JWT_ISSUER: envList.optional(),
  HERALD_JWT_AUDIENCE: envList.optional(),
  HERALD_JWT_CLOCK_TOLERANCE_S: envInt(0, 300).default(DEFAULT_CLOCK_TOLERANCE_S),
};

export type JwtEnv = z.output<z.ZodObject<typeof jwtEnv>>;

/** Maps the parsed JWT variables onto `JwtOptions`. */
export function jwtOptionsFromEnv(env: JwtEnv): JwtOptions {
  const publicKey = env.HERALD_JWT_PUBLIC_KEY ?? env.HERALD_JWT_PUBLIC_KEY_FILE;
  return {
    algorithms: env.HERALD_JWT_ALGORITHMS,
    ...(publicKey !== undefined ? { publicKey } : {}),
    ...(env.HERALD_JWT_KEYS ? { keys: env.HERALD_JWT_KEYS } : {}),
    ...(env.HERALD_JWT_ISSUER?.length ? { issuer: env.HERALD_JWT_ISSUER } : {}),
    ...(env.HERALD_JWT_AUDIENCE?.length ? { audience: env.HERALD_JWT_AUDIENCE } : {}),
    clockToleranceS: env.HERALD_JWT_CLOCK_TOLERANCE_S,
  };
}

/**
 * Runs `checkJwtEnv` only once the JWT variables parsed on their own (zod 4 runs
 * refinements after non-fatal issues too); problems elsewhere do not hold it back.
 */
export const whenJwtEnvParsed = {
  when: (payload: z.core.ParsePayload): boolean =>
    payload.issues.every((issue) => !Object.hasOwn(jwtEnv, String(issue.path?.[0]))),
};

/**
 * The cross-variable checks (`superRefine` of the env schema): builds the key
 * ring once, so every problem (a secret under 32 bytes, a PEM as secret, a key
 * no accepted algorithm fits, an algorithm no key verifies) stops start-up with
 * the variable named.
 */
export function checkJwtEnv(env: JwtEnv, ctx: z.RefinementCtx): void {
  if (env.HERALD_JWT_PUBLIC_KEY !== undefined && env.HERALD_JWT_PUBLIC_KEY_FILE !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['HERALD_JWT_PUBLIC_KEY_FILE'],
      message: 'set HERALD_JWT_PUBLIC_KEY or HERALD_JWT_PUBLIC_KEY_FILE, not both',
    });
    return;
  }
  try {
    createTokenVerifier(env.JWT_SECRET, jwtOptionsFromEnv(env), {
      secret: 'JWT_SECRET',
      publicKey:
        env.HERALD_JWT_PUBLIC_KEY_FILE !== undefined ? 'HERALD_JWT_PUBLIC_KEY_FILE' : 'HERALD_JWT_PUBLIC_KEY',
      keys: 'HERALD_JWT_KEYS',
      algorithms: 'HERALD_JWT_ALGORITHMS',
    });
  } catch (error) {
    if (!isHeraldError(error, HeraldErrorCode.invalidConfig)) throw error;
    for (const issue of error.issues) {
      // Paths are variable names, possibly with an index: HERALD_JWT_KEYS[1].
      const match = /^([A-Z_]+)(?:\[(\d+)\])?$/.exec(issue.path);
      const path = match ? (match[2] === undefined ? [match[1]!] : [match[1]!, Number(match[2])]) : [];
      ctx.addIssue({ code: 'custom', path, message: issue.message });
    }
  }
}

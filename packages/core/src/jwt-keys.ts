import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { HeraldError, HeraldErrorCode, type FieldIssue } from '@herald/contracts';

/** Algorithms Herald can verify. `none` is not one of them and cannot be configured. */
export const JWT_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** Shortest HS secret accepted outside the local dev stack (RFC 7518 §3.2: at least the hash size). */
export const MIN_SECRET_BYTES = 32;

const HS_ALGORITHMS: readonly JwtAlgorithm[] = ['HS256', 'HS384', 'HS512'];
const RSA_ALGORITHMS: readonly JwtAlgorithm[] = ['RS256', 'RS384', 'RS512'];
/** An EC key verifies exactly one ES algorithm: the one of its curve. */
const EC_ALGORITHM_BY_CURVE: Record<string, JwtAlgorithm> = {
  prime256v1: 'ES256',
  secp384r1: 'ES384',
  secp521r1: 'ES512',
};

export function isJwtAlgorithm(value: unknown): value is JwtAlgorithm {
  return typeof value === 'string' && (JWT_ALGORITHMS as readonly string[]).includes(value);
}

/** One key as configured: exactly one of `secret` (HS) or `publicKey` (RS/ES, PEM). */
export interface VerificationKeyInput {
  /** The `kid` header of tokens signed with it. Unset: a default key, for tokens without `kid`. */
  kid?: string;
  /** HS secret. Only ever verifies HS algorithms. */
  secret?: string;
  /** PEM public key (SPKI) or certificate. Only ever verifies RS or ES algorithms. */
  publicKey?: string;
  /** Narrows what this key verifies. @default every accepted algorithm its type allows */
  algorithms?: JwtAlgorithm[];
  /** Names the key in error messages, e.g. the env variable it came from. @default `keys[i]` */
  label?: string;
}

export interface KeyRingOptions {
  keys: VerificationKeyInput[];
  /** Algorithms accepted at all. @default ['HS256'] */
  algorithms?: JwtAlgorithm[];
  /** Shortest accepted HS secret in bytes; only the local dev stack lowers it. @default 32 */
  minSecretBytes?: number;
}

/** A checked key: its KeyObject and the algorithms it may verify (all of one family). */
export interface VerificationKey {
  kid: string | null;
  /** `secret` keys verify HS algorithms only, `public` keys RS/ES only: one key never serves both. */
  kind: 'secret' | 'public';
  key: KeyObject;
  algorithms: JwtAlgorithm[];
  label: string;
}

function invalidToken(message: string): HeraldError {
  return new HeraldError(HeraldErrorCode.invalidToken, message);
}

/**
 * The keys tokens may be signed with, checked once at start-up. Tokens with a
 * `kid` header are verified only by the key of that kid (so keys can rotate:
 * configure old and new side by side); tokens without one by the default key of
 * their algorithm's family.
 */
export class KeyRing {
  readonly algorithms: readonly JwtAlgorithm[];
  readonly keys: readonly VerificationKey[];
  private readonly byKid = new Map<string, VerificationKey>();
  private readonly defaults: VerificationKey[] = [];

  constructor(keys: VerificationKey[], algorithms: JwtAlgorithm[]) {
    this.keys = keys;
    this.algorithms = algorithms;
    for (const key of keys) {
      if (key.kid === null) this.defaults.push(key);
      else this.byKid.set(key.kid, key);
    }
  }

  /**
   * The key that must verify a token with this (still unverified) header, or an
   * `invalid_token` error saying why there is none. The header only chooses; the
   * signature check that follows is pinned to the chosen key's own algorithms.
   */
  select(header: { alg?: unknown; kid?: unknown }): VerificationKey {
    const { alg, kid } = header;
    if (typeof alg === 'string' && alg.toLowerCase() === 'none') {
      throw invalidToken('The access token is unsigned (alg "none"), which is never accepted.');
    }
    if (!isJwtAlgorithm(alg) || !this.algorithms.includes(alg)) {
      throw invalidToken(
        `The access token is signed with an algorithm this server does not accept (accepted: ${this.algorithms.join(', ')}).`,
      );
    }
    if (kid !== undefined) {
      const key = typeof kid === 'string' ? this.byKid.get(kid) : undefined;
      if (!key) {
        throw invalidToken(
          'The access token names a key (kid) this server does not know: sign in again to get a new token.',
        );
      }
      if (!key.algorithms.includes(alg)) {
        throw invalidToken(`The key named by the token's kid does not verify ${alg} tokens.`);
      }
      return key;
    }
    const key = this.defaults.find((candidate) => candidate.algorithms.includes(alg));
    if (!key) {
      throw invalidToken(`The access token has no kid and no default key verifies ${alg} tokens.`);
    }
    return key;
  }

  /** What the ring holds, without key material, for a start-up log line. */
  describe(): Array<{ kid: string | null; kind: string; algorithms: JwtAlgorithm[] }> {
    return this.keys.map(({ kid, kind, algorithms }) => ({ kid, kind, algorithms }));
  }
}

class KeyRingProblems {
  readonly issues: FieldIssue[] = [];
  add(path: string, message: string): void {
    this.issues.push({ path, message });
  }
  throwIfAny(): void {
    if (this.issues.length === 0) return;
    const text = this.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
    throw new HeraldError(HeraldErrorCode.invalidConfig, `Invalid JWT keys: ${text}`, {
      issues: this.issues,
    });
  }
}

/** A PEM block of any kind (public, private, certificate): never a secret. */
const PEM_PATTERN = /-----BEGIN [A-Z0-9 ]+-----/;

function typeAlgorithms(key: KeyObject): readonly JwtAlgorithm[] | string {
  if (key.asymmetricKeyType === 'rsa') return RSA_ALGORITHMS;
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
    const alg = EC_ALGORITHM_BY_CURVE[curve];
    return alg ? [alg] : `EC curve ${curve || 'unknown'} is not supported (use P-256, P-384 or P-521)`;
  }
  return `key type ${key.asymmetricKeyType ?? 'unknown'} is not supported (use an RSA or EC key)`;
}

/**
 * Checks configured keys and builds the ring. Throws one `invalid_config`
 * HeraldError listing every problem, each `issues[].path` being the key's label
 * (or `algorithms`), so a config loader can name the variable at fault.
 *
 * Refused: a secret shorter than `minSecretBytes` or that is a PEM block (an RS/EC
 * public key used as an HS secret is the classic key-confusion attack), a private
 * key given as public key, two keys with one kid, two default keys for one
 * algorithm, a key that can verify none of the accepted algorithms, and an accepted
 * algorithm no key can verify.
 *
 * @example
 * const ring = createKeyRing({
 *   algorithms: ['HS256', 'RS256'],
 *   keys: [{ secret: process.env.JWT_SECRET }, { kid: '2025-06', publicKey: pem }],
 * });
 */
export function createKeyRing(options: KeyRingOptions): KeyRing {
  const problems = new KeyRingProblems();
  const accepted: JwtAlgorithm[] = [...new Set<JwtAlgorithm>(options.algorithms ?? ['HS256'])];
  const minSecretBytes = options.minSecretBytes ?? MIN_SECRET_BYTES;
  if (accepted.length === 0) problems.add('algorithms', 'expected at least one algorithm');
  for (const alg of accepted) {
    if (!isJwtAlgorithm(alg)) {
      problems.add('algorithms', `"${String(alg)}" is not one of ${JWT_ALGORITHMS.join(', ')}`);
    }
  }
  if (options.keys.length === 0) problems.add('keys', 'expected at least one verification key');

  const keys: VerificationKey[] = [];
  options.keys.forEach((input, index) => {
    const label = input.label ?? `keys[${index}]`;
    const hasSecret = input.secret !== undefined;
    const hasPublic = input.publicKey !== undefined;
    if (hasSecret === hasPublic) {
      problems.add(label, 'expected exactly one of a secret or a public key');
      return;
    }
    if (input.kid !== undefined && !/^[\x21-\x7e]{1,200}$/.test(input.kid)) {
      problems.add(label, 'expected a kid of 1 to 200 printable ASCII characters');
      return;
    }
    let key: KeyObject;
    let kind: VerificationKey['kind'];
    let allowed: readonly JwtAlgorithm[];
    if (hasSecret) {
      const secret = input.secret ?? '';
      if (PEM_PATTERN.test(secret)) {
        problems.add(label, 'a PEM key is not an HS secret: configure public keys as public keys');
        return;
      }
      if (Buffer.byteLength(secret, 'utf8') < minSecretBytes) {
        problems.add(label, `expected a secret of at least ${minSecretBytes} bytes`);
        return;
      }
      key = createSecretKey(Buffer.from(secret, 'utf8'));
      kind = 'secret';
      allowed = HS_ALGORITHMS;
    } else {
      const pem = input.publicKey ?? '';
      if (/PRIVATE KEY-----/.test(pem)) {
        problems.add(label, 'this is a private key: give the public key only (never ship private keys)');
        return;
      }
      try {
        key = createPublicKey(pem);
      } catch {
        problems.add(label, 'expected a PEM public key (-----BEGIN PUBLIC KEY-----) or certificate');
        return;
      }
      const byType = typeAlgorithms(key);
      if (typeof byType === 'string') {
        problems.add(label, byType);
        return;
      }
      kind = 'public';
      allowed = byType;
    }
    const wanted = input.algorithms ?? accepted;
    const algorithms = wanted.filter((alg) => allowed.includes(alg) && accepted.includes(alg));
    if (algorithms.length === 0) {
      problems.add(
        label,
        `this ${kind === 'secret' ? 'HS secret' : 'public key'} verifies ${allowed.join('/')}, none of which is accepted (accepted: ${accepted.join(', ')})`,
      );
      return;
    }
    keys.push({ kid: input.kid ?? null, kind, key, algorithms, label });
  });

  const seenKids = new Set<string>();
  for (const key of keys) {
    if (key.kid === null) continue;
    if (seenKids.has(key.kid)) problems.add(key.label, `kid "${key.kid}" is used by another key`);
    seenKids.add(key.kid);
  }
  const defaults = keys.filter((key) => key.kid === null);
  for (const alg of accepted) {
    if (defaults.filter((key) => key.algorithms.includes(alg)).length > 1) {
      problems.add('keys', `two default keys (without kid) both verify ${alg}: give one of them a kid`);
    }
  }
  if (keys.length === options.keys.length) {
    for (const alg of accepted) {
      if (isJwtAlgorithm(alg) && !keys.some((key) => key.algorithms.includes(alg))) {
        problems.add('algorithms', `${alg} is accepted but no configured key can verify it`);
      }
    }
  }
  problems.throwIfAny();
  return new KeyRing(keys, accepted);
}

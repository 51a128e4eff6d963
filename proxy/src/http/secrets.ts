/** Constant-time secret comparison that does not leak the expected length. */
import { createHash, timingSafeEqual } from 'node:crypto';

export function secretsEqual(given: string, expected: string): boolean {
  // Hash both to a fixed length first: timingSafeEqual needs equal lengths, and comparing
  // lengths directly would leak the secret's length.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The bearer token of an `Authorization: Bearer …` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/**
 * Which of the accepted secrets `given` is (index), or -1. Every candidate is compared, in constant
 * time each, so the answer's timing does not tell which one matched.
 */
export function matchingSecret(given: string, accepted: readonly string[]): number {
  let found = -1;
  accepted.forEach((candidate, index) => {
    if (secretsEqual(given, candidate) && found === -1) found = index;
  });
  return found;
}

/** A short, stable, non-reversible name for a key (audit log, rate-limit buckets): `key:1a2b3c4d`. */
export function keyFingerprint(key: string): string {
  return `key:${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

/** The accepted keys of an option that may be one key, several, or none. */
export function acceptedKeys(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return (typeof value === 'string' ? [value] : [...value]).filter((key) => key !== '');
}

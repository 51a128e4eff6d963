/**
 * Salesforce record ids: a 3-character key prefix naming the object, 12 more case-sensitive
 * characters (15 in all), then a 3-character case-safe suffix that makes the 18-character form
 * case-insensitive. The suffix algorithm is Salesforce's documented CASESAFEID: for each 5-char
 * chunk, a bit per uppercase letter, indexed into "A-Z0-5".
 * (Salesforce Help, "CASESAFEID"; also Salesforce's "What are Salesforce IDs composed of?")
 */

const SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ012345';
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** The 3-character case-safe suffix for a 15-character id. */
export function caseSafeSuffix(id15: string): string {
  let suffix = '';
  for (let chunk = 0; chunk < 3; chunk += 1) {
    let bits = 0;
    for (let i = 0; i < 5; i += 1) {
      const c = id15.charCodeAt(chunk * 5 + i);
      if (c >= 65 && c <= 90) bits |= 1 << i;
    }
    suffix += SUFFIX_ALPHABET[bits];
  }
  return suffix;
}

/** 15- or 18-character id → 18-character id; undefined when it is not a well-formed id. */
export function to18(id: string): string | undefined {
  if (!/^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$/.test(id)) return undefined;
  const id15 = id.slice(0, 15);
  const full = id15 + caseSafeSuffix(id15);
  // An 18-character id whose suffix does not match its body is malformed (Salesforce: MALFORMED_ID).
  if (id.length === 18 && id.slice(15).toUpperCase() !== full.slice(15)) return undefined;
  return full;
}

/** The canonical form used as a map key: the 18-character id. */
export function canonicalId(id: string): string | undefined {
  return to18(id);
}

/**
 * Issues ids for one org. The 4th–5th characters of real ids are the pod; ours are fixed ("8d")
 * and the 6th is reserved ("0"); the last 9 are a base-62 counter per key prefix.
 */
export class IdFactory {
  private readonly counters = new Map<string, number>();

  constructor(
    private readonly pod = '8d',
    private readonly start = 1,
  ) {}

  next(keyPrefix: string): string {
    if (keyPrefix.length !== 3) throw new Error(`key prefix must be 3 characters: ${keyPrefix}`);
    const n = this.counters.get(keyPrefix) ?? this.start;
    this.counters.set(keyPrefix, n + 1);
    let body = '';
    let value = n;
    for (let i = 0; i < 9; i += 1) {
      body = BASE62[value % 62] + body;
      value = Math.floor(value / 62);
    }
    const id15 = `${keyPrefix}${this.pod}0${body}`;
    return id15 + caseSafeSuffix(id15);
  }
}

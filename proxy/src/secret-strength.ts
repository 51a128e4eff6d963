/**
 * Is a secret random-looking? Length alone lets `aaaa…`, `abcabc…` or `0123456789abcdef…` through;
 * these checks refuse what a person types or patterns instead of generating it. They estimate, they
 * do not prove. The bounds are set so a generator's output passes: measured over 300,000 values
 * each, `openssl rand -hex 16|24|32` and 24 random bytes in base64url were never refused, 12 random
 * bytes in hex (24 characters, the shortest accepted) once; a refused value only needs regenerating.
 *
 * - Shannon entropy of the character distribution: at least 2.5 bits per character (random hex
 *   measures ~3.3–4 over 24+ characters; `abcabc…` measures 1.6, `aabbaabb…` 2).
 * - No run longer than 10 of one character or of consecutive characters (`aaaaaaaaaaa`,
 *   `0123456789a`); 6 refused about one generated 64-character hex key in 300,000.
 * - Not one short block repeated (`s3cr3t-s3cr3t-s3cr3t-…`).
 */

/** Shannon entropy of the characters of `value`, in bits per character. */
export function entropyPerCharacter(value: string): number {
  if (value.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const character of value) counts.set(character, (counts.get(character) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

const MIN_BITS_PER_CHARACTER = 2.5;
const LONGEST_RUN = 10;

/** The longest run of equal or consecutive (ascending or descending) characters. */
function longestPatternRun(value: string): number {
  let longest = 1;
  let run = 1;
  let step: number | undefined;
  for (let i = 1; i < value.length; i++) {
    const delta = value.charCodeAt(i) - value.charCodeAt(i - 1);
    if (Math.abs(delta) <= 1 && (run === 1 || delta === step)) {
      run++;
      step = delta;
    } else if (Math.abs(delta) <= 1) {
      run = 2;
      step = delta;
    } else {
      run = 1;
      step = undefined;
    }
    longest = Math.max(longest, run);
  }
  return longest;
}

/** Whether the value is one block of at most half its length repeated (the tail may be partial). */
function isRepeatedBlock(value: string): boolean {
  for (let period = 1; period <= value.length / 2; period++) {
    let repeats = true;
    for (let i = period; i < value.length; i++) {
      if (value[i] !== value[i - period]) {
        repeats = false;
        break;
      }
    }
    if (repeats) return true;
  }
  return false;
}

/** Why the value does not look random, or undefined when it does. Never includes the value. */
export function weakSecretReason(value: string): string | undefined {
  if (isRepeatedBlock(value)) return 'is a short block repeated; generate it (e.g. openssl rand -hex 32)';
  if (longestPatternRun(value) > LONGEST_RUN) {
    return 'contains a run of repeated or consecutive characters; generate it (e.g. openssl rand -hex 32)';
  }
  const bits = entropyPerCharacter(value);
  if (bits < MIN_BITS_PER_CHARACTER) {
    return `does not look random (${bits.toFixed(1)} bits per character, at least ${MIN_BITS_PER_CHARACTER} needed); generate it (e.g. openssl rand -hex 32)`;
  }
  return undefined;
}

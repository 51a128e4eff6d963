import { randomBytes } from 'node:crypto';
import { entropyPerCharacter, weakSecretReason } from '../../proxy/src/secret-strength';

describe('weakSecretReason', () => {
  it('passes generated secrets of every documented form', () => {
    for (let i = 0; i < 2_000; i++) {
      expect(weakSecretReason(randomBytes(32).toString('hex'))).toBeUndefined();
      expect(weakSecretReason(randomBytes(24).toString('base64url'))).toBeUndefined();
    }
  });

  it.each([
    ['one character', 'x'.repeat(40)],
    ['a short block repeated', 'abc'.repeat(12)],
    ['a word repeated', 'password'.repeat(5)],
    ['a keyboard run', '0123456789abcdefghijklmnopqrstuvwxyz'],
    ['few distinct characters', 'aabbaabbccddccddaabbaabbccddccddaabbccdd'],
  ])('refuses %s, without echoing it', (_what, value) => {
    const reason = weakSecretReason(value);
    expect(reason).toEqual(expect.any(String));
    expect(reason).not.toContain(value);
  });

  it('measures Shannon entropy per character', () => {
    expect(entropyPerCharacter('aaaa')).toBe(0);
    expect(entropyPerCharacter('abab')).toBe(1);
    expect(entropyPerCharacter('abcd')).toBe(2);
  });
});

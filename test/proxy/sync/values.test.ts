/**
 * Canonical forms: dates without zones, instants in UTC, 18-character ids, safe truncation.
 */
import fc from 'fast-check';
import {
  canonicalDate,
  canonicalDateTime,
  canonicalSalesforceId,
  canonicalVersion,
  compareVersions,
  truncate,
} from '../../../proxy/src/sync';
import { INVALID } from '../../../proxy/src/sync/values';

describe('canonical values', () => {
  it('keeps real calendar dates and refuses the rest', () => {
    expect(canonicalDate('2024-02-29')).toBe('2024-02-29');
    expect(canonicalDate('2000-02-29')).toBe('2000-02-29');
    for (const bad of [
      '2023-02-29',
      '1900-02-29',
      '2024-04-31',
      '2024-00-10',
      '2024-1-1',
      '2024-01-01T00:00:00Z',
    ]) {
      expect(canonicalDate(bad)).toBe(INVALID);
    }
    expect(canonicalDate('')).toBeNull();
  });

  it('writes every instant in UTC with milliseconds, whatever the notation', () => {
    expect(canonicalDateTime('2025-01-02T03:04:05.000+0000')).toBe('2025-01-02T03:04:05.000Z');
    expect(canonicalDateTime('2025-01-02T03:04:05Z')).toBe('2025-01-02T03:04:05.000Z');
    expect(canonicalDateTime('2025-01-02T01:04:05.5-02:00')).toBe('2025-01-02T03:04:05.500Z');
    expect(canonicalDateTime('2025-01-02T00:30:00+01:00')).toBe('2025-01-01T23:30:00.000Z');
    for (const bad of [
      '2025-01-02',
      '2025-01-02T03:04:05',
      '2025-02-30T00:00:00.000Z',
      '2025-01-02T24:00:00.000Z',
      5,
    ]) {
      expect(canonicalDateTime(bad)).toBe(INVALID);
    }
  });

  it('orders Salesforce versions by time and Custompms versions by number', () => {
    const a = canonicalVersion('salesforce', '2025-01-02T03:04:05.000+0100')!;
    const b = canonicalVersion('salesforce', '2025-01-02T02:30:00.000Z')!;
    expect(compareVersions(a, b)).toBeLessThan(0);
    expect(
      compareVersions(canonicalVersion('custompms', '10')!, canonicalVersion('custompms', 9)!),
    ).toBeGreaterThan(0);
    expect(canonicalVersion('custompms', -1)).toBeNull();
    expect(canonicalVersion('custompms', 1.5)).toBeNull();
  });

  it('gives 15-character Salesforce ids their checksum suffix', () => {
    // The example from Salesforce's documentation of case-insensitive ids.
    expect(canonicalSalesforceId('001A0000006Vm9r')).toBe('001A0000006Vm9rIAC');
    expect(canonicalSalesforceId('001A0000006Vm9rIAC')).toBe('001A0000006Vm9rIAC');
    expect(canonicalSalesforceId('001A0000006Vm9')).toBe(INVALID);
    expect(canonicalSalesforceId("001A0000006Vm9r'")).toBe(INVALID);
  });

  it('truncates to a prefix that fits and never splits a surrogate pair', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 40 }),
        fc.integer({ min: 1, max: 30 }),
        (text, max) => {
          const cut = truncate(text, max);
          expect(cut.length).toBeLessThanOrEqual(max);
          expect(text.startsWith(cut)).toBe(true);
          expect(cut.length).toBeGreaterThanOrEqual(Math.min(text.length, max) - 1);
          if (cut.length > 0) {
            const last = cut.charCodeAt(cut.length - 1);
            expect(last >= 0xd800 && last <= 0xdbff).toBe(false);
          }
        },
      ),
    );
  });
});

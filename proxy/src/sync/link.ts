/**
 * The link model: one pair of records (flow, Custompms id, Salesforce id), the values both sides
 * held at the last sync (the merge base), and per side the last version the sync applied.
 */
import { type FlowName, type Side } from './mapping';
import { type Values, canonicalDateTime, INVALID } from './values';

/**
 * Canonical values per side, each keyed by that side's field names (Custompms properties,
 * Salesforce API names). The sides are kept separately, not as one "logical" value, because the
 * maps are lossy on purpose (truncation, `Deferred`→`blocked`, an unmatched owner): each side is
 * compared with what it held, so an echo of a truncated value is still an echo. A field missing
 * from a side is unknown (e.g. a default Salesforce filled in on create): the next value seen
 * becomes its baseline without counting as a change.
 */
export interface Snapshot {
  readonly custompms: Values;
  readonly salesforce: Values;
}

/**
 * What the sync knows about one side of a link.
 * `version` is Custompms `version` (an integer) or Salesforce `SystemModstamp` (canonical UTC
 * ISO-8601); `null` until a version was seen or reported by a write.
 */
export interface SideState {
  readonly version: number | string | null;
  /** When that version was made, UTC ISO-8601 (Custompms `updated_at`, Salesforce `LastModifiedDate`); for `latest`. */
  readonly modifiedAt: string | null;
  /** The record was deleted on this side. */
  readonly deleted: boolean;
  /**
   * Fields the sync wrote without a version check, with the version each write produced
   * (Salesforce upserts are blind). A notification older than such a write still carries the
   * field's earlier value; that field is ignored in it, the rest of it is news. Entries go once
   * the side's applied version passes them.
   */
  readonly written?: Readonly<Record<string, number | string>>;
}

/** One synced pair. Plain data: store it as JSON columns beside the two ids. */
export interface Link {
  readonly flow: FlowName;
  /** `null` while the Custompms record is being created. */
  readonly custompmsId: string | null;
  /** `null` while the Salesforce record is being created. 18-character id. */
  readonly salesforceId: string | null;
  /** `unlinked`: kept as a tombstone so late changes of either record are ignored, not re-created. */
  readonly status: 'active' | 'unlinked';
  readonly snapshot: Snapshot;
  readonly custompms: SideState;
  readonly salesforce: SideState;
}

export const EMPTY_SIDE: SideState = Object.freeze({ version: null, modifiedAt: null, deleted: false });

/** The id of a link on one side. */
export function linkId(link: Link, side: Side): string | null {
  return side === 'custompms' ? link.custompmsId : link.salesforceId;
}

/** The state of a link on one side. */
export function sideState(link: Link, side: Side): SideState {
  return side === 'custompms' ? link.custompms : link.salesforce;
}

/**
 * The canonical form of a version: a Custompms version is a non-negative integer, a Salesforce
 * `SystemModstamp` an instant in canonical UTC form (so string order is time order).
 * `null` when the input is not a version of that side.
 */
export function canonicalVersion(side: Side, raw: unknown): number | string | null {
  if (side === 'custompms') {
    const value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
    return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null;
  }
  const value = canonicalDateTime(raw);
  return value === INVALID ? null : value;
}

/** Compares two canonical versions of the same side: negative, zero or positive. */
export function compareVersions(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const left = String(a);
  const right = String(b);
  return left < right ? -1 : left > right ? 1 : 0;
}

/** The later of two versions (either may be `null`). */
export function laterVersion(a: number | string | null, b: number | string | null): number | string | null {
  if (a === null) return b;
  if (b === null) return a;
  return compareVersions(a, b) >= 0 ? a : b;
}

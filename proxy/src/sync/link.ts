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

function isNewer(a: number | string | null, b: number | string | null): boolean {
  return a !== null && (b === null || compareVersions(a, b) > 0);
}

/**
 * The link to store for a Salesforce write's result (`folded`: the link planned with the write,
 * the result folded in) when the stored link (`current`) may have moved on since the write was
 * planned: a Salesforce edit applied to Custompms while the write's result was on its way (a batch
 * written again after a crash records its first result minutes later). Each side keeps the later
 * of the two states, so the result never takes the link back to before that edit — which would
 * make the sync's own Custompms write look like a newer edit the `latest` rule lets win. What the
 * write adds is kept: a create's Salesforce id, and the fields it wrote after the kept state.
 */
export function withLaterSides(current: Link | undefined, folded: Link): Link {
  if (!current || current.flow !== folded.flow) return folded;
  const custompmsFrom = isNewer(current.custompms.version, folded.custompms.version) ? current : folded;
  const salesforceFrom = isNewer(current.salesforce.version, folded.salesforce.version) ? current : folded;
  if (custompmsFrom === folded && salesforceFrom === folded && current.status === folded.status)
    return folded;
  const salesforceSnapshot: Record<string, Values[string]> = { ...salesforceFrom.snapshot.salesforce };
  const written: Record<string, number | string> = { ...salesforceFrom.salesforce.written };
  if (salesforceFrom === current) {
    // The write landed after the state kept: Salesforce holds what it wrote for those fields.
    for (const [field, version] of Object.entries(folded.salesforce.written ?? {})) {
      if (!isNewer(version, current.salesforce.version) || !isNewer(version, written[field] ?? null))
        continue;
      written[field] = version;
      if (Object.hasOwn(folded.snapshot.salesforce, field))
        salesforceSnapshot[field] = folded.snapshot.salesforce[field]!;
    }
  }
  const { written: _dropped, ...salesforceState } = salesforceFrom.salesforce;
  return {
    ...folded,
    // An unlink (a tombstone) made meanwhile stands.
    status: current.status === 'unlinked' ? 'unlinked' : folded.status,
    salesforceId: folded.salesforceId ?? current.salesforceId,
    custompms: custompmsFrom.custompms,
    salesforce: Object.keys(written).length > 0 ? { ...salesforceState, written } : salesforceState,
    snapshot: { custompms: custompmsFrom.snapshot.custompms, salesforce: salesforceSnapshot },
  };
}

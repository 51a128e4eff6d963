/**
 * The decision function. Given a link (or none) and an incoming change from one side, it returns
 * a plan: what to write where, what to store afterwards, and why. It is pure and total: bad
 * input becomes an `invalid` plan with problems, never an exception. Kept as one module (it is
 * long) because it is one function with its private steps — order, echo, merge, conflicts,
 * deletes, `applyWriteResult` — that share the plan types and invariants below; the
 * helpers it uses elsewhere (values, conversion, link model) already live in their own files.
 *
 * Rules (DESIGN.md "Sync semantics"):
 * - Order: a change whose version is not newer than the last applied one on its side is
 *   `duplicate` (equal) or `stale` (older), unless `replay` is set.
 * - Echo: a change whose mapped values equal that side's snapshot writes nothing.
 * - Merge: field by field against the snapshot. Changed on one side: that side wins. Changed on
 *   both sides (only visible when the caller passes the other side's current state as
 *   `counterpart`) to values that disagree: a conflict, resolved by the flow's policy and recorded.
 * - Dependencies: a value that needs a link that does not exist yet makes the plan wait.
 * - Deletes follow the flow's delete policy.
 */
import { type SyncContext } from './context';
import {
  type Conversion,
  type Dependency,
  convertField,
  fieldOn,
  flowsFrom,
  isActiveRow,
  invalidValue,
  mapRecord,
  readField,
  readValue,
} from './convert';
import {
  EMPTY_SIDE,
  type Link,
  type SideState,
  type Snapshot,
  canonicalVersion,
  compareVersions,
} from './link';
import {
  type ConflictPolicy,
  type FieldMapping,
  type FlowDefinition,
  type FlowName,
  type Side,
} from './mapping';
import { type Problem, hasErrors } from './problems';
import {
  type RawRecord,
  type Scalar,
  type Values,
  canonicalDateTime,
  canonicalSalesforceId,
  INVALID,
} from './values';

/** An incoming change from one side: the record's full current state, not a diff. */
export interface Change {
  readonly side: Side;
  readonly operation: 'upsert' | 'delete' | 'undelete';
  /** The record's id on its side (Custompms id, or Salesforce Id of 15 or 18 characters). */
  readonly id: string;
  /** Custompms `version` or Salesforce `SystemModstamp`. Required unless `operation` is `delete`. */
  readonly version?: number | string | null;
  /**
   * When the change was made, UTC (Custompms `updated_at`, Salesforce `LastModifiedDate`), used by
   * the `latest` conflict policy. A Salesforce change without it uses its `SystemModstamp`.
   */
  readonly modifiedAt?: string | null;
  /** Current field values (Custompms resource, or Salesforce fields by API name). Required unless `delete`. */
  readonly record?: RawRecord | null;
  /** Who made the change (e.g. `LastModifiedById`), for the audit trail only: decisions use values and versions. */
  readonly origin?: string | null;
  /** Plan even when the version equals the applied one (admin replay, re-deriving a task's Division). */
  readonly replay?: boolean;
  /**
   * Fields whose absence from `record` means "unknown", not "empty": a Salesforce outbound message
   * leaves out null fields, and also every field its send-as user cannot read (field-level
   * security). A field listed here and absent is left out of the change, so it never clears the
   * other side; present, it is read as usual.
   */
  readonly unknownWhenAbsent?: readonly string[];
}

/** Everything the planner needs. */
export interface PlanInput {
  /** The flow, with overrides applied (`applyOverrides`). */
  readonly flow: FlowDefinition;
  readonly context: SyncContext;
  /** The stored link for this record, or `null` when none exists. */
  readonly link: Link | null;
  readonly change: Change;
  /**
   * The other side's current state, when the caller has it: after a conditional write failed
   * (Custompms `409`), during reconciliation, or a change for the same record still queued.
   * Without it the other side is taken to hold its snapshot. Conflicts can only be seen with it.
   * With no link, a counterpart links two existing records instead of creating one.
   */
  readonly counterpart?: Change | null;
}

/** One write for an adapter to perform. */
export interface Write {
  readonly side: Side;
  readonly action: 'create' | 'update' | 'delete';
  /** Target record id; `null` for a create (Salesforce Tasks are upserted on `Custompms_Id__c`). */
  readonly id: string | null;
  /** Field values in the target's names; only the changed fields for an update. `null` clears. */
  readonly fields: Values;
  /** Last version of the target the planner knew: send as `If-Match` to Custompms; `null` when unknown. */
  readonly expectedVersion: number | string | null;
}

/** A field changed on both sides to disagreeing values, and how it was settled. */
export interface Conflict {
  /** Field-map row key. */
  readonly field: string;
  readonly custompmsField: string;
  readonly salesforceField: string;
  /** Each side's new value (canonical, in its own form). */
  readonly custompmsValue: Scalar;
  readonly salesforceValue: Scalar;
  /** The snapshot values both sides changed from (`null` when linking records with no snapshot). */
  readonly base: { readonly custompms: Scalar | undefined; readonly salesforce: Scalar | undefined } | null;
  readonly winner: Side;
  readonly policy: ConflictPolicy;
}

/** Why a change writes nothing. */
export type SkipReason =
  /** The values equal the snapshot: our own write coming back, or a touch without changes. */
  | 'echo'
  /** Older than the version already applied on that side. */
  | 'stale'
  /** The same version as the one already applied. */
  | 'duplicate'
  /**
   * The same version as the one applied, but other values: two edits within the version's
   * resolution (Salesforce stamps `SystemModstamp` to the second) whose notifications may arrive
   * in either order. Read the record's current state and plan that with `replay`.
   */
  | 'reread'
  /** Nothing to do by rule: not linked and not created from this side, unlinked, other side deleted, policy `ignore`. */
  | 'ignored'
  /** Fields changed but nothing needs writing (they already agree, or each one has a problem). */
  | 'no_change';

interface PlanCommon {
  readonly flow: FlowName;
  /** The side the change came from. */
  readonly source: Side;
  /** The side written (the other side, usually); `null` when nothing is written. */
  readonly target: Side | null;
  /** Writes in order; perform all, then store `link`. */
  readonly writes: readonly Write[];
  readonly conflicts: readonly Conflict[];
  readonly problems: readonly Problem[];
  /**
   * The link to store once every write has succeeded (pass it through `applyWriteResult` for
   * each write first). `null`: leave the stored link as it is (the change will be retried, or
   * there is nothing to remember).
   */
  readonly link: Link | null;
}

/** A plan. Discriminated by `kind`. */
export type Plan =
  | (PlanCommon & { readonly kind: 'create' | 'update' | 'delete' | 'deactivate' | 'unlink' })
  | (PlanCommon & { readonly kind: 'skip'; readonly reason: SkipReason })
  | (PlanCommon & { readonly kind: 'wait_for_dependency'; readonly missing: readonly Dependency[] })
  | (PlanCommon & { readonly kind: 'invalid' });

const NO_WRITES: readonly Write[] = Object.freeze([]);
const NO_CONFLICTS: readonly Conflict[] = Object.freeze([]);
const NO_PROBLEMS: readonly Problem[] = Object.freeze([]);

export function otherSide(side: Side): Side {
  return side === 'custompms' ? 'salesforce' : 'custompms';
}

/** A change read and checked: canonical id, version, time and values. */
interface Incoming {
  readonly side: Side;
  readonly change: Change;
  readonly id: string;
  readonly version: number | string | null;
  readonly modifiedAt: string | null;
  /** Canonical values by the side's field names (only fields that were read without error). */
  readonly values: Record<string, Scalar>;
}

function badChange(flow: FlowName, message: string): Problem {
  return { code: 'bad_change', severity: 'error', message, flow };
}

type Common = Partial<PlanCommon> & Pick<PlanCommon, 'flow' | 'source'>;

function fill(common: Common): PlanCommon {
  return {
    target: null,
    writes: NO_WRITES,
    conflicts: NO_CONFLICTS,
    problems: NO_PROBLEMS,
    link: null,
    ...common,
  };
}

function plan(
  kind: 'create' | 'update' | 'delete' | 'deactivate' | 'unlink' | 'invalid',
  common: Common,
): Plan {
  return { ...fill(common), kind };
}

function skip(common: Common, reason: SkipReason): Plan {
  return { ...fill(common), kind: 'skip', reason };
}

function waitPlan(flow: FlowName, source: Side, missing: Dependency[], problems: readonly Problem[]): Plan {
  const seen = new Set<string>();
  const unique = missing.filter((dependency) => {
    const key = JSON.stringify(dependency);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return {
    kind: 'wait_for_dependency',
    flow,
    source,
    target: null,
    writes: NO_WRITES,
    conflicts: NO_CONFLICTS,
    problems,
    link: null,
    missing: unique,
  };
}

/** Checks a change's shape and reads its values. */
function readIncoming(
  flow: FlowDefinition,
  context: SyncContext,
  change: Change,
): { incoming: Incoming; problems: Problem[] } | { invalid: Problem[] } {
  const side = change.side;
  if (side !== 'custompms' && side !== 'salesforce')
    return { invalid: [badChange(flow.name, 'unknown side')] };
  let id: string | null = typeof change.id === 'string' && change.id.length > 0 ? change.id : null;
  if (id !== null && side === 'salesforce') {
    const canonicalId = canonicalSalesforceId(id);
    id = canonicalId === INVALID ? null : canonicalId;
  }
  if (id === null) return { invalid: [badChange(flow.name, `missing or malformed ${side} id`)] };
  const needsState = change.operation !== 'delete';
  const version =
    change.version === undefined || change.version === null ? null : canonicalVersion(side, change.version);
  if (needsState && version === null) {
    return { invalid: [badChange(flow.name, `a ${change.operation} needs a valid ${side} version`)] };
  }
  if (needsState && (change.record === null || typeof change.record !== 'object')) {
    return { invalid: [badChange(flow.name, `a ${change.operation} needs the record's current state`)] };
  }
  const rawModified = change.modifiedAt ?? (side === 'salesforce' ? version : null);
  const modified = canonicalDateTime(rawModified);
  const modifiedAt = modified === INVALID ? null : modified;

  const problems: Problem[] = [];
  const values: Record<string, Scalar> = {};
  if (needsState) {
    const record = change.record!;
    if (side === 'salesforce' && flow.salesforceType !== null && record.Custompms_Type__c !== undefined) {
      if (record.Custompms_Type__c !== flow.salesforceType) {
        return {
          invalid: [
            {
              code: 'flow_mismatch',
              severity: 'error',
              message: `Custompms_Type__c is ${JSON.stringify(record.Custompms_Type__c)}, not ${flow.salesforceType}`,
              flow: flow.name,
              value: record.Custompms_Type__c,
            },
          ],
        };
      }
    }
    for (const field of flow.fields) {
      if (!isActiveRow(field, context)) continue;
      const name = side === 'custompms' ? field.custompms : field.salesforce;
      if (name === null || Object.hasOwn(values, name)) continue;
      if (change.unknownWhenAbsent?.includes(name) && !Object.hasOwn(record, name)) continue;
      const value = readValue(field, side, record);
      if (value === INVALID) problems.push(invalidValue(flow.name, field, side, record));
      else values[name] = value;
    }
  }
  return { incoming: { side, change, id, version, modifiedAt, values }, problems };
}

/** `stale`/`duplicate` when the change is not newer than the side's applied version. */
function ordering(incoming: Incoming, state: SideState): 'stale' | 'duplicate' | null {
  if (incoming.version === null || state.version === null) return null;
  const order = compareVersions(incoming.version, state.version);
  if (order < 0) return 'stale';
  // A delete is an event of its own: the same version as the last upsert is not a duplicate of it
  // (a repeated delete is caught by the side's `deleted` flag).
  if (order === 0 && !incoming.change.replay && incoming.change.operation !== 'delete') return 'duplicate';
  return null;
}

/** Whether a change carries a value, on a field flowing from its side, other than the snapshot's. */
function differsFromSnapshot(flow: FlowDefinition, incoming: Incoming, snapshot: Link['snapshot']): boolean {
  const base = incoming.side === 'custompms' ? snapshot.custompms : snapshot.salesforce;
  return flow.fields.some((field) => {
    const name = fieldOn(field, incoming.side);
    if (name === null || !flowsFrom(field, incoming.side)) return false;
    if (!Object.hasOwn(incoming.values, name) || !Object.hasOwn(base, name)) return false;
    return incoming.values[name] !== base[name];
  });
}

function writtenSameSecondDiffers(incoming: Incoming, link: Link): boolean {
  if (incoming.version === null) return false;
  return Object.entries(link.salesforce.written ?? {}).some(
    ([name, at]) =>
      compareVersions(at, incoming.version!) === 0 &&
      Object.hasOwn(incoming.values, name) &&
      Object.hasOwn(link.snapshot.salesforce, name) &&
      incoming.values[name] !== link.snapshot.salesforce[name],
  );
}

function withSide(link: Link, side: Side, state: SideState, id?: string): Link {
  if (side === 'custompms')
    return { ...link, custompms: state, ...(id === undefined ? {} : { custompmsId: id }) };
  return { ...link, salesforce: state, ...(id === undefined ? {} : { salesforceId: id }) };
}

/** Blind writes still ahead of `version`: the ones a notification of that version predates. */
function writtenAfter(
  written: SideState['written'],
  version: number | string | null,
): Record<string, number | string> | undefined {
  if (written === undefined) return undefined;
  const ahead: Record<string, number | string> = {};
  let any = false;
  for (const [name, at] of Object.entries(written)) {
    if (version === null || compareVersions(at, version) > 0) {
      ahead[name] = at;
      any = true;
    }
  }
  return any ? ahead : undefined;
}

function advanced(state: SideState, incoming: Incoming, deleted = state.deleted): SideState {
  const version = incoming.version ?? state.version;
  const written = writtenAfter(state.written, version);
  return {
    version,
    modifiedAt: incoming.modifiedAt ?? state.modifiedAt,
    deleted,
    ...(written === undefined ? {} : { written }),
  };
}

/** The incoming values without fields a later blind write of ours has overwritten since. */
function unmasked(incoming: Incoming, state: SideState): Incoming {
  const ahead = writtenAfter(state.written, incoming.version);
  if (ahead === undefined) return incoming;
  const values = { ...incoming.values };
  for (const name of Object.keys(ahead)) delete values[name];
  return { ...incoming, values };
}

function withoutNulls(values: Values): Values {
  const result: Record<string, Scalar> = {};
  for (const name in values) if (values[name] !== null) result[name] = values[name]!;
  return result;
}

/** Winner of a conflict under `policy`. Ties and unknown times go to Custompms, the system of record. */
function winnerOf(policy: ConflictPolicy, custompmsAt: string | null, salesforceAt: string | null): Side {
  if (policy !== 'latest') return policy;
  if (salesforceAt === null) return 'custompms';
  if (custompmsAt === null) return 'salesforce';
  return salesforceAt > custompmsAt ? 'salesforce' : 'custompms';
}

/** Working state of one side during a merge. */
interface MergeSide {
  readonly side: Side;
  /** The side's current values: incoming values over the snapshot. */
  readonly current: Record<string, Scalar>;
  /** Whether a change from this side is part of the merge. */
  readonly present: boolean;
  /** Snapshot values of this side (`null`: none, linking two existing records). */
  readonly base: Values | null;
  readonly modifiedAt: string | null;
  /** Fields to write on this side. */
  readonly writes: Record<string, Scalar>;
  writeCount: number;
  /** Fields whose change could not be carried over: keep their snapshot value so it is retried. */
  readonly held: Set<string>;
}

function mergeSide(
  side: Side,
  base: Values | null,
  incoming: Incoming | null,
  modifiedAt: string | null,
): MergeSide {
  return {
    side,
    current: incoming ? { ...base, ...incoming.values } : { ...base },
    present: incoming !== null,
    base,
    modifiedAt,
    writes: {},
    writeCount: 0,
    held: new Set(),
  };
}

function changedOn(field: FieldMapping, side: MergeSide): boolean {
  if (!side.present || !flowsFrom(field, side.side)) return false;
  const name = fieldOn(field, side.side)!;
  if (!Object.hasOwn(side.current, name)) return false; // unreadable this time
  if (side.base === null) return true;
  // Unknown in the snapshot: the first value seen is the baseline, not a change.
  if (!Object.hasOwn(side.base, name)) return false;
  return side.base[name] !== side.current[name];
}

interface MergeResult {
  readonly custompms: MergeSide;
  readonly salesforce: MergeSide;
  readonly changed: boolean;
  readonly conflicts: Conflict[];
  readonly problems: Problem[];
  readonly waits: Dependency[];
}

/** What a merge accumulates besides the two sides. */
interface MergeWork {
  readonly flow: FlowName;
  readonly context: SyncContext;
  readonly problems: Problem[];
  readonly waits: Dependency[];
}

/** Carries one field's current value from one side to the other, if the other does not hold it yet. */
function carry(
  work: MergeWork,
  field: FieldMapping,
  from: MergeSide,
  to: MergeSide,
  conversion?: Conversion,
): void {
  const fromName = fieldOn(field, from.side)!;
  const toName = fieldOn(field, to.side)!;
  const result = conversion ?? convertField(work.flow, field, to.side, from.current[fromName]!, work.context);
  if ('wait' in result) {
    work.waits.push(result.wait);
    return;
  }
  if ('skip' in result) {
    work.problems.push(result.skip);
    from.held.add(fromName);
    return;
  }
  if (result.problem) work.problems.push(result.problem);
  if (to.current[toName] !== result.value || !Object.hasOwn(to.current, toName)) {
    to.writes[toName] = result.value;
    to.current[toName] = result.value;
    to.writeCount += 1;
  }
}

/** Field-level three-way merge of whatever changes are present against the snapshot. */
function merge(
  flow: FlowDefinition,
  context: SyncContext,
  snapshot: Snapshot | null,
  custompms: Incoming | null,
  salesforce: Incoming | null,
  modifiedAt: { custompms: string | null; salesforce: string | null },
  custompmsId: string | null,
): MergeResult {
  const sides = {
    custompms: mergeSide('custompms', snapshot?.custompms ?? null, custompms, modifiedAt.custompms),
    salesforce: mergeSide('salesforce', snapshot?.salesforce ?? null, salesforce, modifiedAt.salesforce),
  };
  const conflicts: Conflict[] = [];
  const problems: Problem[] = [];
  const waits: Dependency[] = [];
  let changed = false;

  const work: MergeWork = { flow: flow.name, context, problems, waits };

  const cp = sides.custompms;
  const sf = sides.salesforce;
  for (const field of flow.fields) {
    if (!isActiveRow(field, context)) continue;
    if (field.kind === 'constant' || field.kind === 'id') {
      // Markers are the product's, not a user's: put back whatever Salesforce shows instead.
      const expected = field.kind === 'id' ? custompmsId : (field.constant ?? null);
      const name = field.salesforce;
      if (
        sf.present &&
        expected !== null &&
        Object.hasOwn(sf.current, name) &&
        sf.current[name] !== expected
      ) {
        sf.writes[name] = expected;
        sf.current[name] = expected;
        sf.writeCount += 1;
        changed = true;
      }
      continue;
    }
    let changedCp = changedOn(field, cp);
    const changedSf = changedOn(field, sf);
    let derived: Conversion | undefined;
    if (!changedCp && field.kind === 'project_division' && snapshot !== null) {
      // The Division follows the project (which a Salesforce edit may just have changed above)
      // and the project's customer (which can change while this record does not).
      const source = cp.current[field.custompms!];
      if (source !== undefined) {
        const conversion = convertField(flow.name, field, 'salesforce', source, context);
        if ('value' in conversion && conversion.value !== sf.current[field.salesforce]) {
          changedCp = true;
          derived = conversion;
        }
      }
    }
    if (!changedCp && !changedSf) continue;
    changed = true;
    if (changedCp && !changedSf) {
      carry(work, field, cp, sf, derived);
      continue;
    }
    if (changedSf && !changedCp) {
      carry(work, field, sf, cp);
      continue;
    }
    // Changed on both sides: a conflict only if the new values disagree.
    const cpValue = cp.current[field.custompms!]!;
    const sfValue = sf.current[field.salesforce]!;
    const toSf = convertField(flow.name, field, 'salesforce', cpValue, context);
    const toCp = convertField(flow.name, field, 'custompms', sfValue, context);
    if (('value' in toSf && toSf.value === sfValue) || ('value' in toCp && toCp.value === cpValue)) continue;
    const winner = winnerOf(flow.conflictPolicy, cp.modifiedAt, sf.modifiedAt);
    conflicts.push({
      field: field.key,
      custompmsField: field.custompms!,
      salesforceField: field.salesforce,
      custompmsValue: cpValue,
      salesforceValue: sfValue,
      base:
        snapshot === null
          ? null
          : {
              custompms: snapshot.custompms[field.custompms!],
              salesforce: snapshot.salesforce[field.salesforce],
            },
      winner,
      policy: flow.conflictPolicy,
    });
    if (winner === 'custompms') carry(work, field, cp, sf, toSf);
    else carry(work, field, sf, cp, toCp);
  }
  return { custompms: sides.custompms, salesforce: sides.salesforce, changed, conflicts, problems, waits };
}

/** The snapshot of a side after a merge: current values, except held fields keep their old value. */
function nextValues(side: MergeSide): Values {
  if (side.held.size === 0) return side.current;
  const values: Record<string, Scalar> = { ...side.current };
  for (const name of side.held) {
    if (side.base !== null && Object.hasOwn(side.base, name)) values[name] = side.base[name]!;
    else delete values[name];
  }
  return values;
}

/** Fields that mark a Salesforce record as synced (cleared when a link is dropped). */
function markerFields(flow: FlowDefinition): Values {
  const fields: Record<string, Scalar> = {};
  for (const field of flow.fields) {
    if (field.enabled && (field.kind === 'id' || field.kind === 'constant' || field.kind === 'project_ref')) {
      fields[field.salesforce] = null;
    }
  }
  return fields;
}

function planDelete(flow: FlowDefinition, link: Link, incoming: Incoming): Plan {
  const source = incoming.side;
  const target = otherSide(source);
  const common = { flow: flow.name, source };
  const sourceState = source === 'custompms' ? link.custompms : link.salesforce;
  const targetState = target === 'custompms' ? link.custompms : link.salesforce;
  if (sourceState.deleted) return skip({ ...common, link: null }, 'duplicate');
  const deletedLink = withSide(link, source, advanced(sourceState, incoming, true));
  const targetId = target === 'custompms' ? link.custompmsId : link.salesforceId;
  // Our own delete coming back, or both deleted independently: nothing left to do.
  if (targetState.deleted || targetId === null) return skip({ ...common, link: deletedLink }, 'echo');
  const expectedVersion = targetState.version;
  switch (flow.deletePolicy) {
    case 'delete':
      if (target === 'salesforce' && flow.salesforceObject === 'Division') break;
      return plan('delete', {
        ...common,
        target,
        writes: [{ side: target, action: 'delete', id: targetId, fields: {}, expectedVersion }],
        link: withSide(deletedLink, target, { ...targetState, deleted: true }),
      });
    case 'deactivate': {
      const active = flow.fields.find(
        (field) => field.enabled && field.kind === 'boolean' && field.salesforce === 'IsActive',
      );
      if (target !== 'salesforce' || active === undefined) break;
      const snapshot = {
        ...link.snapshot,
        salesforce: { ...link.snapshot.salesforce, [active.salesforce]: false },
      };
      return plan('deactivate', {
        ...common,
        target,
        writes: [
          {
            side: target,
            action: 'update',
            id: targetId,
            fields: { [active.salesforce]: false },
            expectedVersion,
          },
        ],
        link: { ...deletedLink, snapshot },
      });
    }
    case 'unlink': {
      const fields = target === 'salesforce' ? markerFields(flow) : {};
      const writes: Write[] =
        Object.keys(fields).length > 0
          ? [{ side: target, action: 'update', id: targetId, fields, expectedVersion }]
          : [];
      return plan('unlink', { ...common, target, writes, link: { ...deletedLink, status: 'unlinked' } });
    }
    case 'ignore':
      return skip({ ...common, link: deletedLink }, 'ignored');
  }
  return plan('invalid', {
    ...common,
    problems: [badChange(flow.name, `delete policy ${flow.deletePolicy} cannot apply to ${target}`)],
  });
}

function planCreate(
  flow: FlowDefinition,
  context: SyncContext,
  incoming: Incoming,
  readProblems: Problem[],
): Plan {
  const source = incoming.side;
  const target = otherSide(source);
  const common = { flow: flow.name, source };
  const mapped = mapRecord(flow.name, flow.fields, source, incoming.change.record!, context);
  const problems = [...readProblems, ...mapped.problems];
  if (mapped.waits.length > 0) return waitPlan(flow.name, source, [...mapped.waits], problems);
  // Creating a record with a field missing would be "written incomplete": refuse instead.
  if (hasErrors(problems)) return plan('invalid', { ...common, problems });
  const fields = withoutNulls(mapped.values);
  const targetState: SideState = EMPTY_SIDE;
  const link: Link = {
    flow: flow.name,
    custompmsId: source === 'custompms' ? incoming.id : null,
    salesforceId: source === 'salesforce' ? incoming.id : null,
    status: 'active',
    // The target's snapshot keeps the nulls: an empty field is a known value, so a later edit of
    // it is a change (a default the target fills in comes back as one, and syncs back).
    snapshot:
      source === 'custompms'
        ? { custompms: incoming.values, salesforce: mapped.values }
        : { custompms: mapped.values, salesforce: incoming.values },
    custompms: source === 'custompms' ? advanced(EMPTY_SIDE, incoming) : targetState,
    salesforce: source === 'salesforce' ? advanced(EMPTY_SIDE, incoming) : targetState,
  };
  return plan('create', {
    ...common,
    target,
    writes: [{ side: target, action: 'create', id: null, fields, expectedVersion: null }],
    problems,
    link,
  });
}

function planMerge(
  flow: FlowDefinition,
  context: SyncContext,
  link: Link,
  snapshot: Snapshot | null,
  primary: Incoming,
  counterpart: Incoming | null,
  readProblems: Problem[],
): Plan {
  const source = primary.side;
  const cpIncoming = source === 'custompms' ? primary : counterpart;
  const sfIncoming = source === 'salesforce' ? primary : counterpart;
  const custompms = cpIncoming === null ? null : unmasked(cpIncoming, link.custompms);
  const salesforce = sfIncoming === null ? null : unmasked(sfIncoming, link.salesforce);
  const cpState = custompms ? advanced(link.custompms, custompms, false) : link.custompms;
  const sfState = salesforce ? advanced(link.salesforce, salesforce, false) : link.salesforce;
  const result = merge(
    flow,
    context,
    snapshot,
    custompms,
    salesforce,
    {
      custompms: cpState.modifiedAt,
      salesforce: sfState.modifiedAt,
    },
    link.custompmsId ?? custompms?.id ?? null,
  );
  const problems = result.problems.length === 0 ? readProblems : [...readProblems, ...result.problems];
  const common = { flow: flow.name, source, conflicts: result.conflicts, problems };
  if (result.waits.length > 0) return waitPlan(flow.name, source, result.waits, problems);
  const next: Link = {
    ...link,
    custompmsId: link.custompmsId ?? custompms?.id ?? null,
    salesforceId: link.salesforceId ?? salesforce?.id ?? null,
    snapshot: { custompms: nextValues(result.custompms), salesforce: nextValues(result.salesforce) },
    custompms: cpState,
    salesforce: sfState,
  };
  if (!result.changed) return skip({ ...common, link: next }, 'echo');
  const writes: Write[] = [];
  // The side opposite the change first: that is where the change is going.
  for (const side of [otherSide(source), source]) {
    const merged = side === 'custompms' ? result.custompms : result.salesforce;
    if (merged.writeCount === 0) continue;
    const id = side === 'custompms' ? next.custompmsId : next.salesforceId;
    const state = side === 'custompms' ? cpState : sfState;
    writes.push({ side, action: 'update', id, fields: merged.writes, expectedVersion: state.version });
  }
  if (writes.length === 0) return skip({ ...common, link: next }, 'no_change');
  return plan('update', { ...common, target: writes[0]!.side, writes, link: next });
}

/**
 * Plans one incoming change. See the module comment for the rules; every outcome is a `Plan`.
 */
export function planChange(input: PlanInput): Plan {
  const { flow, context, link, change } = input;
  const source = change?.side;
  const common = {
    flow: flow.name,
    source: source === 'salesforce' ? ('salesforce' as const) : ('custompms' as const),
  };
  if (change === null || typeof change !== 'object') {
    return plan('invalid', { ...common, problems: [badChange(flow.name, 'no change')] });
  }
  const read = readIncoming(flow, context, change);
  if ('invalid' in read) return plan('invalid', { ...common, problems: read.invalid });
  const { incoming } = read;
  let counterpart: Incoming | null = null;
  const readProblems = read.problems;
  if (input.counterpart) {
    if (input.counterpart.side === incoming.side || input.counterpart.operation === 'delete') {
      return plan('invalid', {
        ...common,
        problems: [badChange(flow.name, 'a counterpart is the current state of the other side')],
      });
    }
    const other = readIncoming(flow, context, input.counterpart);
    if ('invalid' in other) return plan('invalid', { ...common, problems: other.invalid });
    counterpart = other.incoming;
    readProblems.push(...other.problems);
  }

  if (link === null) {
    if (counterpart !== null) {
      // Two existing records, no history: link them; every disagreement is a conflict.
      const fresh: Link = {
        flow: flow.name,
        custompmsId: null,
        salesforceId: null,
        status: 'active',
        snapshot: { custompms: {}, salesforce: {} },
        custompms: EMPTY_SIDE,
        salesforce: EMPTY_SIDE,
      };
      return planMerge(flow, context, fresh, null, incoming, counterpart, readProblems);
    }
    if (change.operation === 'delete') return skip(common, 'ignored');
    if (incoming.side === 'salesforce') {
      if (!flow.createFromSalesforce) return skip(common, 'ignored');
      const idField = flow.fields.find((field) => field.enabled && field.kind === 'id');
      const custompmsId = idField ? change.record![idField.salesforce] : undefined;
      if (typeof custompmsId === 'string' && custompmsId !== '') {
        return plan('invalid', {
          ...common,
          problems: [
            {
              code: 'unlinked_record',
              severity: 'error',
              message: `the record names Custompms id ${custompmsId}, which has no link: plan again with that record as the counterpart`,
              flow: flow.name,
              value: custompmsId,
            },
          ],
        });
      }
    }
    return planCreate(flow, context, incoming, readProblems);
  }

  if (link.status === 'unlinked') return skip(common, 'ignored');
  const linkedId = incoming.side === 'custompms' ? link.custompmsId : link.salesforceId;
  if (linkedId !== null && linkedId !== incoming.id) {
    return plan('invalid', {
      ...common,
      problems: [badChange(flow.name, `the change is for ${incoming.id}, the link for ${linkedId}`)],
    });
  }
  const state = incoming.side === 'custompms' ? link.custompms : link.salesforce;
  const order = ordering(incoming, state);
  // Custompms versions count every edit; Salesforce's stamp is only to the second.
  if (
    order === 'duplicate' &&
    incoming.side === 'salesforce' &&
    differsFromSnapshot(flow, incoming, link.snapshot)
  )
    return skip(common, 'reread');
  if (order !== null) return skip(common, order);
  // A notification stamped in the same second as a blind write of ours may have been sent before
  // that write: a differing value of a field we wrote is then its before-image, not an edit. The
  // record is read again (that read's values are current, and planned with `replay`).
  if (incoming.side === 'salesforce' && !change.replay && writtenSameSecondDiffers(incoming, link))
    return skip(common, 'reread');
  if (counterpart !== null) {
    const counterpartState = counterpart.side === 'custompms' ? link.custompms : link.salesforce;
    if (ordering(counterpart, counterpartState) !== null) counterpart = null;
  }

  if (change.operation === 'delete') return planDelete(flow, link, incoming);

  const targetSide = otherSide(incoming.side);
  const targetState = targetSide === 'custompms' ? link.custompms : link.salesforce;
  const ownLink = linkedId === null ? withSide(link, incoming.side, state, incoming.id) : link;
  if (state.deleted && change.operation !== 'undelete') {
    // A late state of a record deleted since: the delete is newer.
    return skip(common, 'stale');
  }
  if (targetState.deleted && counterpart === null) {
    if (change.operation === 'undelete') {
      // Restored after its counterpart was deleted: restore the counterpart too, as a new record.
      return planCreate(flow, context, incoming, readProblems);
    }
    return skip({ ...common, link: withSide(ownLink, incoming.side, advanced(state, incoming)) }, 'ignored');
  }
  return planMerge(flow, context, ownLink, link.snapshot, incoming, counterpart, readProblems);
}

/** What an adapter learned from a successful write. */
export interface WriteResult {
  /** Id of a created record. */
  readonly id?: string;
  /**
   * Version of the target right after **this** write (Custompms `version` from the response,
   * Salesforce `SystemModstamp` read in the same transaction). Leave it out when unknown: a
   * version read later could belong to someone else's edit, which would then be dropped.
   */
  readonly version?: number | string;
  /**
   * The write could not have mixed with changes the sync has not seen: a Custompms PATCH with
   * `If-Match: expectedVersion`, or a create. Then `version` is marked applied (its notification
   * is a duplicate). Otherwise (a blind Salesforce upsert) `version` is only remembered for the
   * fields written, and the notification of that version is still read for anyone else's edits.
   */
  readonly conditional?: boolean;
  /** The record as the target stored it, when the response has it: the snapshot then holds what is really there. */
  readonly record?: RawRecord;
}

/**
 * Folds one write's result into the link to store. Returns follow-up writes: after a Custompms
 * create from Salesforce, the new id goes back to `Custompms_Id__c` (DESIGN.md).
 */
export function applyWriteResult(
  flow: FlowDefinition,
  context: SyncContext,
  link: Link,
  write: Write,
  result: WriteResult,
): { link: Link; followUps: Write[] } {
  const side = write.side;
  const state = side === 'custompms' ? link.custompms : link.salesforce;
  const reported = result.version === undefined ? null : canonicalVersion(side, result.version);
  const newer = reported !== null && (state.version === null || compareVersions(reported, state.version) > 0);
  let nextState: SideState = { ...state, deleted: write.action === 'delete' };
  if (newer && result.conditional) {
    const written = writtenAfter(state.written, reported);
    nextState = { version: reported, modifiedAt: state.modifiedAt, deleted: nextState.deleted };
    if (written !== undefined) nextState = { ...nextState, written };
  } else if (newer) {
    const written: Record<string, number | string> = { ...state.written };
    for (const name of Object.keys(write.fields)) {
      const before = written[name];
      if (before === undefined || compareVersions(reported, before) > 0) written[name] = reported;
    }
    nextState = { ...nextState, written };
  }
  let next: Link = withSide(link, side, nextState);
  if (write.action === 'create' && result.id !== undefined) {
    const id = side === 'salesforce' ? canonicalSalesforceId(result.id) : result.id;
    if (typeof id === 'string') next = withSide(next, side, next[side], id);
  }
  if (result.record !== undefined) {
    const values: Record<string, Scalar> = { ...next.snapshot[side] };
    for (const field of flow.fields) {
      if (!isActiveRow(field, context)) continue;
      const name = fieldOn(field, side);
      if (name === null) continue;
      const read = readField(flow.name, field, side, result.record);
      if ('value' in read) values[name] = read.value;
    }
    next = { ...next, snapshot: { ...next.snapshot, [side]: values } };
  }
  const followUps: Write[] = [];
  const idField = flow.fields.find((field) => field.enabled && field.kind === 'id');
  if (write.action === 'create' && side === 'custompms' && idField && next.custompmsId && next.salesforceId) {
    const fields: Record<string, Scalar> = { [idField.salesforce]: next.custompmsId };
    // A Task created in Salesforce gets its Division from its project in the same write.
    for (const field of flow.fields) {
      if (field.kind !== 'project_division' || !isActiveRow(field, context)) continue;
      const source = next.snapshot.custompms[field.custompms!];
      if (source === undefined) continue;
      const conversion = convertField(flow.name, field, 'salesforce', source, context);
      if ('value' in conversion && conversion.value !== next.snapshot.salesforce[field.salesforce]) {
        fields[field.salesforce] = conversion.value;
      }
    }
    followUps.push({
      side: 'salesforce',
      action: 'update',
      id: next.salesforceId,
      fields,
      expectedVersion: next.salesforce.version,
    });
    next = {
      ...next,
      snapshot: { ...next.snapshot, salesforce: { ...next.snapshot.salesforce, ...fields } },
    };
  }
  return { link: next, followUps };
}

/**
 * True when `record` is exactly what the conditional Custompms update `write` produced: the next
 * version after the one it was sent with (`If-Match`), holding the written values. The proxy
 * journals such a write before sending it; when the answer is lost (a crash, a timeout) the write
 * is met again later — as a 409's current record or as its webhook — and must be folded in as
 * the sync's own, not taken for someone else's newer edit.
 */
export function isOwnCustompmsWrite(flow: FlowDefinition, write: Write, record: RawRecord): boolean {
  if (write.side !== 'custompms' || write.action !== 'update' || write.expectedVersion === null) return false;
  const version = canonicalVersion('custompms', record['version']);
  if (version !== Number(write.expectedVersion) + 1) return false;
  return Object.keys(write.fields).every((name) => {
    const field = flow.fields.find((candidate) => candidate.custompms === name);
    if (!field) return record[name] === write.fields[name];
    return readValue(field, 'custompms', record) === readValue(field, 'custompms', write.fields);
  });
}

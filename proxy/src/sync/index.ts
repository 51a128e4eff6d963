/**
 * The sync core: pure functions over plain data, no I/O (DESIGN.md "Layers").
 *
 * Typical use by a job:
 * 1. Load the flow definition once: `applyOverrides(FLOWS, overridesFromTheOrg)`.
 * 2. For each incoming change, load its link (by either id) and build a `SyncContext`
 *    (owner directory, Division and project links), then `planChange({ flow, context, link, change })`.
 * 3. Act on `plan.kind`: perform `plan.writes` in order (`Write.expectedVersion` is the
 *    `If-Match` for Custompms), fold each result in with `applyWriteResult` (report the version
 *    the write produced, and `conditional: true` for If-Match writes and creates), perform its
 *    follow-ups, then store the resulting link; `skip` plans with a `link` store it too;
 *    `wait_for_dependency` retries later (`plan.missing` says what to sync first); `invalid` and
 *    `plan.problems` go to the log and the admin view, `plan.conflicts` to the admin view.
 * 4. When a Custompms write answers 409, fetch the record and plan the same change again with
 *    it as `counterpart`: that is how edits on both sides meet and conflicts are resolved.
 * 5. Process one change at a time per record, so a plan always starts from the link the previous
 *    one stored (the proxy holds a per-record advisory lock while it plans and writes:
 *    store/locks.ts, taken in jobs/apply.ts `planAndApply`).
 */
export {
  FLOWS,
  FLOW_NAMES,
  FIELD_KINDS,
  PLAIN_KINDS,
  DIRECTIONS,
  CONFLICT_POLICIES,
  DELETE_POLICIES,
  applyOverrides,
  writesToCustompms,
  writesToSalesforce,
  type ConflictPolicy,
  type DeletePolicy,
  type Direction,
  type FieldKind,
  type FieldMapOverride,
  type FieldMapping,
  type FlowDefinition,
  type FlowName,
  type FlowSettingOverride,
  type OverrideResult,
  type Overrides,
  type Side,
  type SyncDefinition,
  type ValueMap,
} from './mapping';
export { hasErrors, type Problem, type ProblemCode, type ProblemSeverity } from './problems';
export { overridesFromOrg, type FieldMapRecord, type SyncSettingRecord } from './org-overrides';
export {
  ownerDirectory,
  type DirectoryUser,
  type LinkedProject,
  type Lookup,
  type OwnerDirectory,
  type SyncContext,
} from './context';
export { mapRecord, type Dependency, type MappedRecord } from './convert';
export {
  canonicalDate,
  canonicalDateTime,
  canonicalSalesforceId,
  truncate,
  type RawRecord,
  type Scalar,
  type Values,
} from './values';
export {
  canonicalVersion,
  compareVersions,
  withLaterSides,
  type Link,
  type SideState,
  type Snapshot,
} from './link';
export {
  applyWriteResult,
  isOwnCustompmsWrite,
  otherSide,
  planChange,
  type Change,
  type Conflict,
  type Plan,
  type PlanInput,
  type SkipReason,
  type Write,
  type WriteResult,
} from './plan';

/**
 * Typed problems: everything the sync core cannot do, or does with a caveat, is reported as
 * data. The core never throws past its caller for bad input; callers log, store and show these.
 */

/**
 * Stable problem codes.
 * - `truncated`: a value was cut to the Salesforce field length (the write still happens).
 * - `unmapped_value`: a picklist value has no entry in the value map; the field is not written.
 * - `invalid_value`: the input is not of the field's type (e.g. `2024-13-01` as a date).
 * - `required`: an empty value for a field the target requires; the field is not written.
 * - `owner_not_found`: no active user has the email; the integration user is used instead.
 * - `owner_ambiguous`: several active users share the email; the field is not written.
 * - `owner_unknown`: a Salesforce OwnerId with no known email (a queue, an inactive user).
 * - `flow_mismatch`: the record does not belong to this flow (e.g. a different `Custompms_Type__c`).
 * - `unlinked_record`: a Salesforce record names a Custompms id that has no link; load the
 *   Custompms record and plan again with it as the counterpart.
 * - `bad_change`: the change itself is malformed (missing id, version or record).
 * - `bad_override`: a field-map override read back from the org is invalid and was not applied.
 * - `shipped_record_edited`: a shipped custom-metadata record (Override unchecked) differs from
 *   the shipped mapping: it applies, but the next deploy resets it.
 */
export type ProblemCode =
  | 'truncated'
  | 'unmapped_value'
  | 'invalid_value'
  | 'required'
  | 'owner_not_found'
  | 'owner_ambiguous'
  | 'owner_unknown'
  | 'flow_mismatch'
  | 'unlinked_record'
  | 'bad_change'
  | 'bad_override'
  | 'shipped_record_edited';

/** `error`: the field (or the whole change, for creates) is not written. `warning`: written with a caveat. */
export type ProblemSeverity = 'error' | 'warning';

/** One thing that went wrong or was adjusted, with enough context for a log line or the admin view. */
export interface Problem {
  readonly code: ProblemCode;
  readonly severity: ProblemSeverity;
  readonly message: string;
  /** Flow the problem arose in, when known. */
  readonly flow?: string;
  /** Field-map row key (e.g. `projects.status`), when the problem concerns one row. */
  readonly field?: string;
  /** The offending input value, when it helps (never a secret: these are record values). */
  readonly value?: unknown;
}

/** True when any problem is an error. */
export function hasErrors(problems: readonly Problem[]): boolean {
  return problems.some((problem) => problem.severity === 'error');
}

/**
 * Which mapped Task fields field-level security hides from the integration user. The outbound
 * message is sent as that user (its `integrationUser`) and carries only the fields it can read, so
 * a hidden field is absent exactly like an empty one; read as empty, it would clear the Custompms
 * value. `describe` as the same user leaves the hidden fields out: read when the proxy starts
 * working and again every `settings.mappingRefreshMs` (with the mapping), it turns such absences
 * into "unknown" (`Change.unknownWhenAbsent`) and reports each hidden field as a
 * `field_hidden_from_sender` problem until access is restored.
 */
import type { SyncDefinition } from '../sync';
import { readableTaskFields } from '../salesforce/org-mapping';
import { recordProblemOnce } from '../store/problems';
import type { SyncDeps } from './deps';

interface FieldAccess {
  readAt: number;
  reading: Promise<void> | undefined;
  hidden: ReadonlySet<string>;
}

const access = new WeakMap<SyncDeps, FieldAccess>();

/** The mapped Task fields hidden from the integration user, as of the last read. */
export function hiddenTaskFields(deps: SyncDeps): ReadonlySet<string> {
  return access.get(deps)?.hidden ?? new Set();
}

/** Reads the integration user's Task field access again when due (one read at a time). */
export async function refreshTaskFieldAccess(deps: SyncDeps): Promise<void> {
  let state = access.get(deps);
  if (!state) {
    state = { readAt: 0, reading: undefined, hidden: new Set() };
    access.set(deps, state);
  }
  if (Date.now() - state.readAt <= deps.settings.mappingRefreshMs) return;
  const current = state;
  current.reading ??= read(deps, current).finally(() => {
    current.reading = undefined;
  });
  await current.reading;
}

/** The Salesforce fields of Task flows that Salesforce changes are read from. */
export function readTaskFields(definition: SyncDefinition): Map<string, string> {
  const fields = new Map<string, string>();
  for (const flow of Object.values(definition)) {
    if (flow.salesforceObject !== 'Task') continue;
    for (const row of flow.fields) {
      // Division is never in the outbound message (it is read separately).
      if (!row.enabled || row.direction === 'to_salesforce' || row.salesforce === 'Division') continue;
      fields.set(row.salesforce, flow.name);
    }
  }
  return fields;
}

async function read(deps: SyncDeps, state: FieldAccess): Promise<void> {
  let readable: Set<string>;
  try {
    const { operations } = await deps.salesforce();
    readable = await readableTaskFields(operations);
  } catch (error) {
    // Tried again at the next interval; meanwhile the fields known hidden stay so.
    state.readAt = Date.now();
    deps.logger.warn({ err: error }, 'could not describe Task; keeping the known hidden fields');
    return;
  }
  state.readAt = Date.now();
  const hidden = new Map<string, string>();
  for (const [field, flow] of readTaskFields(deps.definition))
    if (!readable.has(field)) hidden.set(field, flow);
  state.hidden = new Set(hidden.keys());
  if (hidden.size === 0) return;
  deps.logger.warn({ fields: [...hidden.keys()] }, 'Task fields hidden from the integration user');
  for (const [field, flow] of hidden) {
    await recordProblemOnce(deps.pool, {
      flow,
      kind: 'warning',
      code: 'field_hidden_from_sender',
      message: `Task.${field} is hidden from the integration user by field-level security: the outbound message leaves it out, so Salesforce edits of it do not sync (it is never cleared in Custompms for that reason). Grant it read and edit access (Custompms_Integration does; check the user's profile and permission sets).`,
    }).catch((error: unknown) => deps.logger.error({ err: error, field }, 'hidden-field problem not stored'));
  }
}

/**
 * The org's field-map and setting records (`Custompms_Field_Map__mdt`, `Custompms_Sync_Setting__mdt`)
 * read back over the shipped mapping and the environment's policies: an explicit step that the
 * jobs which plan or record against the mapping call at their top (planAndApply, the recording
 * of batch results, the backfill). It reads the org when the last read is older than
 * `settings.mappingRefreshMs` (and on the first call), one read at a time per process. A failed
 * first read fails the job (it retries); a failed later read keeps the mapping in force and is
 * tried again at the next interval. A record that does not apply as it stands (invalid:
 * `bad_override`; a shipped record edited in Setup: `shipped_record_edited`) is an admin-visible
 * problem, recorded once while open.
 */
import type { Logger } from 'pino';
import { applyOverrides, FLOWS, overridesFromOrg, type FlowSettingOverride, type Problem } from '../sync';
import { readOrgMapping } from '../salesforce/org-mapping';
import { saveEffectiveMapping } from '../store/effective-mapping';
import { recordProblemOnce } from '../store/problems';
import type { SalesforceOperations } from '../salesforce/operations';
import type { SyncDeps } from './deps';

interface MappingSource {
  /** The environment's settings, under whatever the org says. */
  configured: FlowSettingOverride[];
  logger: Logger;
  readAt: number;
  reading: Promise<void> | undefined;
}

const sources = new WeakMap<SyncDeps, MappingSource>();

/** Makes `deps.definition` follow the org's mapping records (called by `createSyncDeps`). */
export function trackOrgMapping(deps: SyncDeps, configured: FlowSettingOverride[]): void {
  sources.set(deps, { configured, logger: deps.logger, readAt: 0, reading: undefined });
}

/**
 * Reads the org's mapping records again when they are due and applies them to `deps.definition`.
 * Deps not built by `createSyncDeps` (no org mapping to follow) are left alone.
 */
export async function refreshOrgMapping(deps: SyncDeps): Promise<void> {
  const source = sources.get(deps);
  if (!source || !due(deps, source)) return;
  const { operations } = await deps.salesforce();
  // Checked again: a concurrent caller may have read it while this one waited for the connection.
  if (!source.reading && !due(deps, source)) return;
  if (source.readAt === 0) {
    source.reading ??= readMapping(deps, source, operations).finally(() => {
      source.reading = undefined;
    });
    return source.reading;
  }
  source.reading ??= readMapping(deps, source, operations)
    .catch((error: unknown) => {
      source.readAt = Date.now();
      source.logger.warn(
        { err: error },
        'could not read the org mapping records; keeping the current mapping',
      );
    })
    .finally(() => {
      source.reading = undefined;
    });
  await source.reading;
}

function due(deps: SyncDeps, source: MappingSource): boolean {
  return Date.now() - source.readAt > deps.settings.mappingRefreshMs;
}

/** The admin's changes to the org's field maps and settings win over the shipped ones. */
async function readMapping(
  deps: SyncDeps,
  source: MappingSource,
  operations: SalesforceOperations,
): Promise<void> {
  const records = await readOrgMapping(operations);
  source.readAt = Date.now();
  if (!records) return;
  const fromOrg = overridesFromOrg(FLOWS, records);
  const result = applyOverrides(FLOWS, {
    flows: [...source.configured, ...(fromOrg.overrides.flows ?? [])],
    fields: fromOrg.overrides.fields ?? [],
  });
  deps.definition = result.definition;
  // Each record that does not apply as it stands is an admin-visible problem, not only a log line.
  for (const problem of [...fromOrg.problems, ...result.problems]) {
    source.logger.warn({ problem }, 'org mapping record not applied as shipped');
    await recordMappingProblem(deps, source, problem);
  }
  // For the console's settings page (the web process does not read the org itself).
  await saveEffectiveMapping(deps.pool, result.definition).catch((error: unknown) =>
    source.logger.warn({ err: error }, 'could not store the mapping in force for the console'),
  );
}

/** Records a mapping problem once while open; failing to store it must not undo the mapping. */
async function recordMappingProblem(deps: SyncDeps, source: MappingSource, problem: Problem): Promise<void> {
  await recordProblemOnce(deps.pool, {
    flow: problem.flow ?? null,
    kind: problem.severity === 'error' ? 'error' : 'warning',
    code: problem.code,
    message: `Setup → Custom Metadata Types: ${problem.message}${problem.field ? ` (${problem.field})` : ''}`,
  }).catch((error: unknown) => source.logger.error({ err: error, problem }, 'mapping problem not stored'));
}

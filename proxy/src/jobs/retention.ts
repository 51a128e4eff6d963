/**
 * Retention (#14): what the sync no longer needs is purged hourly, so the store stays within a
 * Heroku Postgres plan's limits. Processed inbox messages are kept at least two days whatever the
 * setting: their de-duplication keys must outlive Salesforce's 24 h outbound-message redelivery
 * (and Custompms's webhook retries). Unprocessed messages, open/published batches, outbox rows,
 * links and open problems are never purged.
 */
import type { SyncDeps } from './deps';

const DAY_MS = 24 * 3600_000;
/** Redelivery windows end within a day; two days leaves a margin. */
const MIN_DEDUPE_DAYS = 2;
/** Rows deleted per statement, so a first purge of a large store does not hold long locks. */
const PURGE_CHUNK = 5_000;

export interface PurgeCounts {
  inbox: number;
  batches: number;
  conflicts: number;
  problems: number;
  deletes: number;
}

export async function purgeExpired(
  deps: Pick<SyncDeps, 'pool' | 'settings' | 'now' | 'logger'>,
): Promise<PurgeCounts> {
  const days = Math.max(MIN_DEDUPE_DAYS, deps.settings.retentionDays);
  const before = new Date(deps.now().getTime() - days * DAY_MS);
  const purge = async (sql: string): Promise<number> => {
    let total = 0;
    for (;;) {
      const result = await deps.pool.query(sql, [before, PURGE_CHUNK]);
      total += result.rowCount ?? 0;
      if ((result.rowCount ?? 0) < PURGE_CHUNK) return total;
    }
  };
  const counts: PurgeCounts = {
    inbox: await purge(
      `DELETE FROM inbox_messages WHERE id IN (SELECT id FROM inbox_messages
         WHERE processed_at IS NOT NULL AND processed_at < $1 LIMIT $2)`,
    ),
    batches: await purge(
      `DELETE FROM change_batches WHERE id IN (SELECT id FROM change_batches
         WHERE status IN ('completed', 'superseded') AND coalesce(completed_at, created_at) < $1
           AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.batch_id = change_batches.id) LIMIT $2)`,
    ),
    conflicts: await purge(
      `DELETE FROM conflicts WHERE id IN (SELECT id FROM conflicts WHERE created_at < $1 LIMIT $2)`,
    ),
    problems: await purge(
      `DELETE FROM sync_problems WHERE id IN (SELECT id FROM sync_problems
         WHERE resolved_at IS NOT NULL AND resolved_at < $1 LIMIT $2)`,
    ),
    deletes: await purge(
      `DELETE FROM applied_deletes WHERE id IN (SELECT id FROM applied_deletes WHERE applied_at < $1 LIMIT $2)`,
    ),
  };
  deps.logger.info({ ...counts, retentionDays: days }, 'expired rows purged');
  return counts;
}

/** The mapping in force as the jobs last applied it (migration 0007), for the console. */
import type { SyncDefinition } from '../sync';
import type { Queryable } from './transaction';

export async function saveEffectiveMapping(db: Queryable, definition: SyncDefinition): Promise<void> {
  await db.query(
    `INSERT INTO effective_mapping (definition, applied_at) VALUES ($1, now())
     ON CONFLICT (singleton) DO UPDATE SET definition = EXCLUDED.definition, applied_at = EXCLUDED.applied_at`,
    [JSON.stringify(definition)],
  );
}

/** The last applied mapping and when, or undefined before the jobs first read the org. */
export async function getEffectiveMapping(
  db: Queryable,
): Promise<{ definition: SyncDefinition; appliedAt: Date } | undefined> {
  const result = await db.query<{ definition: SyncDefinition; applied_at: Date }>(
    'SELECT definition, applied_at FROM effective_mapping',
  );
  const row = result.rows[0];
  return row && { definition: row.definition, appliedAt: row.applied_at };
}

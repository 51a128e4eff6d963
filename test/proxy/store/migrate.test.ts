import {
  appliedMigrationId,
  latestMigrationId,
  loadMigrations,
  migrate,
} from '../../../proxy/src/store/migrate';
import { createTestDatabase, type TestDatabase } from '../../support/database';

describe('migrations', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });

  it('are numbered without gaps', () => {
    const ids = loadMigrations().map((migration) => migration.id);
    expect(ids).toEqual(ids.map((_, index) => index + 1));
  });

  it('apply every migration once and are idempotent', async () => {
    expect(await appliedMigrationId(db.pool)).toBe(0);
    const first = await migrate(db.pool);
    expect(first).toEqual(loadMigrations().map((migration) => migration.id));
    expect(await migrate(db.pool)).toEqual([]);
    expect(await appliedMigrationId(db.pool)).toBe(latestMigrationId());
    const tables = await db.pool.query<{ name: string }>(
      "SELECT to_regclass('inbox_messages')::text AS name UNION ALL SELECT to_regclass('graphile_worker._private_jobs')::text",
    );
    expect(tables.rows.map((row) => row.name)).toEqual(['inbox_messages', 'graphile_worker._private_jobs']);
  });

  it('are safe when several processes start at once', async () => {
    const results = await Promise.all([migrate(db.pool), migrate(db.pool), migrate(db.pool)]);
    const appliedEverywhere = results.flat().sort((a, b) => a - b);
    expect(appliedEverywhere).toEqual(loadMigrations().map((migration) => migration.id));
    const count = await db.pool.query<{ n: string }>('SELECT count(*) AS n FROM schema_migrations');
    expect(Number(count.rows[0]?.n)).toBe(latestMigrationId());
  });

  it('roll back a failing migration and name it', async () => {
    const broken = [
      ...loadMigrations(),
      { id: latestMigrationId() + 1, name: 'broken', sql: 'CREATE TABLE x (; ' },
    ];
    await expect(migrate(db.pool, broken)).rejects.toThrow(/broken failed/);
    expect(await appliedMigrationId(db.pool)).toBe(latestMigrationId());
  });
});

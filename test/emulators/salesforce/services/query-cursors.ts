/**
 * Query results and their cursors. The first page comes back with the total size; the rest stays
 * server-side behind `nextRecordsUrl` (`/services/data/vNN.0/query/01g…-2000`) as a snapshot of
 * the matched records, until fetched or idle for 15 minutes (then INVALID_QUERY_LOCATOR).
 * Page size: 2,000 by default, or the `batchSize` (200–2,000) of `Sforce-Query-Options`
 * (REST API Developer Guide, "Query", "Query Options Header").
 */
import { ApiError } from '../errors';
import type { IdFactory } from '../ids';
import type { Database } from '../data/database';
import { projectRow } from '../data/serialize';
import type { StoredRecord } from '../data/values';
import type { CompiledQuery } from '../soql/executor';
import type { Clock } from '../time';

interface Cursor {
  id: string;
  compiled: CompiledQuery;
  rows: StoredRecord[];
  resource: 'query' | 'queryAll';
  lastUsed: number;
}

export interface QueryPage {
  totalSize: number;
  done: boolean;
  nextRecordsUrl?: string;
  records: Record<string, unknown>[];
}

const IDLE_MS = 15 * 60 * 1000;

export class QueryCursors {
  private readonly cursors = new Map<string, Cursor>();

  constructor(
    private readonly db: Database,
    private readonly ids: IdFactory,
    private readonly clock: Clock,
  ) {}

  private expire(): void {
    const now = this.clock.now();
    for (const [id, cursor] of this.cursors) if (now - cursor.lastUsed > IDLE_MS) this.cursors.delete(id);
  }

  /** The first page of a result. */
  first(
    compiled: CompiledQuery,
    rows: StoredRecord[],
    resource: 'query' | 'queryAll',
    version: string,
    batchSize: number,
  ): QueryPage {
    this.expire();
    if (compiled.count) return { totalSize: rows.length, done: true, records: [] };
    if (rows.length <= batchSize) {
      return {
        totalSize: rows.length,
        done: true,
        records: rows.map((r) => projectRow(compiled, r, version, this.db)),
      };
    }
    const id = this.ids.next('01g');
    this.cursors.set(id, { id, compiled, rows, resource, lastUsed: this.clock.now() });
    return this.page(id, 0, version, batchSize);
  }

  /** A later page: locator `01g…-<offset>`. */
  next(locator: string, version: string, batchSize: number): QueryPage {
    this.expire();
    const match = /^(01g[A-Za-z0-9]{15})-(\d+)$/.exec(locator);
    const cursor = match ? this.cursors.get(match[1]!) : undefined;
    if (!match || !cursor) throw new ApiError(400, 'INVALID_QUERY_LOCATOR', 'invalid query locator');
    return this.page(cursor.id, Number(match[2]), version, batchSize);
  }

  private page(id: string, offset: number, version: string, batchSize: number): QueryPage {
    const cursor = this.cursors.get(id)!;
    cursor.lastUsed = this.clock.now();
    const slice = cursor.rows.slice(offset, offset + batchSize);
    const end = offset + slice.length;
    const done = end >= cursor.rows.length;
    if (done) this.cursors.delete(id);
    return {
      totalSize: cursor.rows.length,
      done,
      ...(done ? {} : { nextRecordsUrl: `/services/data/v${version}/${cursor.resource}/${id}-${end}` }),
      records: slice.map((r) => projectRow(cursor.compiled, r, version, this.db)),
    };
  }

  get open(): number {
    return this.cursors.size;
  }
}

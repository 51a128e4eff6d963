/**
 * The reference server's in-memory state: records per collection kept sorted by
 * (`updated_at`, `id`) so a page is a binary search plus a slice (10,000 records page in
 * microseconds), tombstones sorted by (`deleted_at`, `type`, `id`), and remembered idempotent
 * results. Timestamps come from a clock that never runs backwards, so an update always moves a
 * record to the end of the order (or level with the end, where `id` breaks the tie).
 */
import { randomBytes } from 'node:crypto';
import { KIND_OF_RESOURCE, type RecordKind, type ResourceType } from '../../../proxy/src/custompms/types';

export interface StoredRecord {
  id: string;
  version: number;
  created_at: string;
  updated_at: string;
  [field: string]: unknown;
}

export interface StoredTombstone {
  type: RecordKind;
  id: string;
  deleted_at: string;
}

/** Position in a list: the last item of the previous page. */
export interface ListPosition {
  at: string;
  id: string;
  kind?: RecordKind;
}

export interface RecordMeta {
  id?: string;
  version?: number;
  created_at?: string;
  updated_at?: string;
}

const ID_PREFIX: Record<ResourceType, string> = { customers: 'cus', projects: 'prj', tasks: 'tsk' };

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareRecords(a: StoredRecord, b: StoredRecord): number {
  return compare(a.updated_at, b.updated_at) || compare(a.id, b.id);
}

function compareTombstones(a: StoredTombstone, b: StoredTombstone): number {
  return compare(a.deleted_at, b.deleted_at) || compare(a.type, b.type) || compare(a.id, b.id);
}

/** First index whose item is not before `probe` (`strict`: first index strictly after it). */
function lowerBound<T>(items: T[], before: (item: T) => boolean): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (before(items[middle]!)) low = middle + 1;
    else high = middle;
  }
  return low;
}

function isoMillis(value: string): string {
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime())) throw new RangeError(`Not a timestamp: ${value}`);
  return parsed.toISOString();
}

export class CustompmsStore {
  readonly #byId = new Map<ResourceType, Map<string, StoredRecord>>();
  readonly #ordered = new Map<ResourceType, StoredRecord[]>();
  #tombstones: StoredTombstone[] = [];
  readonly #deletedIds = new Set<string>();
  #lastMillis = 0;

  constructor(
    /** Field names per collection (from the document's create schemas), in response order. */
    readonly fields: Readonly<Record<ResourceType, readonly string[]>>,
    readonly clock: () => number = Date.now,
  ) {
    this.clear();
  }

  clear(): void {
    for (const type of Object.keys(this.fields) as ResourceType[]) {
      this.#byId.set(type, new Map());
      this.#ordered.set(type, []);
    }
    this.#tombstones = [];
    this.#deletedIds.clear();
  }

  /** Now, as ISO-8601 with milliseconds, never before the previous answer. */
  timestamp(): string {
    this.#lastMillis = Math.max(this.clock(), this.#lastMillis);
    return new Date(this.#lastMillis).toISOString();
  }

  get(type: ResourceType, id: string): StoredRecord | undefined {
    const record = this.#byId.get(type)!.get(id);
    return record && { ...record };
  }

  has(type: ResourceType, id: string): boolean {
    return this.#byId.get(type)!.has(id);
  }

  count(type: ResourceType): number {
    return this.#ordered.get(type)!.length;
  }

  /** Every record of a collection, in list order (copies). */
  all(type: ResourceType): StoredRecord[] {
    return this.#ordered.get(type)!.map((record) => ({ ...record }));
  }

  /** Stores a new record; unset fields become null. `meta` lets seeding pick ids and times. */
  insert(type: ResourceType, values: Record<string, unknown>, meta: RecordMeta = {}): StoredRecord {
    const id = meta.id ?? this.#newId(type);
    if (this.#byId.get(type)!.has(id) || this.#deletedIds.has(`${type}/${id}`))
      throw new RangeError(`${type}/${id} already exists or was deleted`);
    const now = this.timestamp();
    const record: StoredRecord = {
      id,
      version: meta.version ?? 1,
      created_at: meta.created_at ? isoMillis(meta.created_at) : now,
      updated_at: meta.updated_at ? isoMillis(meta.updated_at) : now,
    };
    for (const field of this.fields[type]) record[field] = values[field] ?? null;
    this.#byId.get(type)!.set(id, record);
    this.#insertOrdered(type, record);
    return { ...record };
  }

  /**
   * Applies changes. A change that alters no value is not a change: version, `updated_at` and
   * position stay, and no event is due (`changed: false`).
   */
  update(
    type: ResourceType,
    id: string,
    changes: Record<string, unknown>,
  ): { record: StoredRecord; changed: boolean } {
    const record = this.#byId.get(type)!.get(id);
    if (!record) throw new RangeError(`${type}/${id} does not exist`);
    const altered = Object.entries(changes).filter(
      ([field, value]) => this.fields[type].includes(field) && (record[field] ?? null) !== (value ?? null),
    );
    if (altered.length === 0) return { record: { ...record }, changed: false };
    this.#removeOrdered(type, record);
    for (const [field, value] of altered) record[field] = value ?? null;
    record.version += 1;
    record.updated_at = this.timestamp();
    this.#insertOrdered(type, record);
    return { record: { ...record }, changed: true };
  }

  /** Deletes a record and leaves its tombstone. */
  remove(type: ResourceType, id: string): { record: StoredRecord; tombstone: StoredTombstone } {
    const record = this.#byId.get(type)!.get(id);
    if (!record) throw new RangeError(`${type}/${id} does not exist`);
    this.#byId.get(type)!.delete(id);
    this.#removeOrdered(type, record);
    this.#deletedIds.add(`${type}/${id}`);
    const tombstone: StoredTombstone = { type: KIND_OF_RESOURCE[type], id, deleted_at: this.timestamp() };
    const index = lowerBound(this.#tombstones, (item) => compareTombstones(item, tombstone) < 0);
    this.#tombstones.splice(index, 0, tombstone);
    return { record: { ...record }, tombstone: { ...tombstone } };
  }

  /** Records with `updated_at ≥ since`, after `after`, at most `limit`; `more` says whether any follow. */
  page(
    type: ResourceType,
    options: { since?: string; after?: ListPosition; limit: number },
  ): { data: StoredRecord[]; more: boolean } {
    const ordered = this.#ordered.get(type)!;
    let start = 0;
    if (options.since !== undefined) {
      const since = options.since;
      start = lowerBound(ordered, (record) => record.updated_at < since);
    }
    if (options.after) {
      const { at, id } = options.after;
      start = Math.max(
        start,
        lowerBound(
          ordered,
          (record) => compare(record.updated_at, at) < 0 || (record.updated_at === at && record.id <= id),
        ),
      );
    }
    const slice = ordered.slice(start, start + options.limit + 1);
    return {
      data: slice.slice(0, options.limit).map((record) => ({ ...record })),
      more: slice.length > options.limit,
    };
  }

  tombstonePage(options: { since?: string; after?: ListPosition; limit: number }): {
    data: StoredTombstone[];
    more: boolean;
  } {
    let start = 0;
    if (options.since !== undefined) {
      const since = options.since;
      start = lowerBound(this.#tombstones, (item) => item.deleted_at < since);
    }
    if (options.after) {
      const probe: StoredTombstone = {
        deleted_at: options.after.at,
        type: options.after.kind ?? 'customer',
        id: options.after.id,
      };
      start = Math.max(
        start,
        lowerBound(this.#tombstones, (item) => compareTombstones(item, probe) <= 0),
      );
    }
    const slice = this.#tombstones.slice(start, start + options.limit + 1);
    return {
      data: slice.slice(0, options.limit).map((item) => ({ ...item })),
      more: slice.length > options.limit,
    };
  }

  tombstones(): StoredTombstone[] {
    return this.#tombstones.map((item) => ({ ...item }));
  }

  #newId(type: ResourceType): string {
    for (;;) {
      const id = `${ID_PREFIX[type]}_${randomBytes(8).toString('hex')}`;
      if (!this.#byId.get(type)!.has(id) && !this.#deletedIds.has(`${type}/${id}`)) return id;
    }
  }

  #insertOrdered(type: ResourceType, record: StoredRecord): void {
    const ordered = this.#ordered.get(type)!;
    // Appending is the common case (the clock only moves forward): skip the search then.
    const last = ordered[ordered.length - 1];
    if (!last || compareRecords(last, record) < 0) {
      ordered.push(record);
      return;
    }
    ordered.splice(
      lowerBound(ordered, (item) => compareRecords(item, record) < 0),
      0,
      record,
    );
  }

  #removeOrdered(type: ResourceType, record: StoredRecord): void {
    const ordered = this.#ordered.get(type)!;
    const index = lowerBound(ordered, (item) => compareRecords(item, record) < 0);
    if (ordered[index] !== record) throw new Error(`index out of order for ${type}/${record.id}`);
    ordered.splice(index, 1);
  }
}

export { isoMillis };

/**
 * One object's records in memory, keyed by 18-character id, with indexes on unique and
 * external-id fields. Records are never mutated in place: a write stores a new object, so query
 * cursors holding the old objects keep a consistent snapshot and rollbacks can restore them.
 */
import type { FieldDef, ObjectDef } from '../schema/types';
import { indexKey, type StoredRecord } from './values';

export class Table {
  readonly rows = new Map<string, StoredRecord>();
  /** When each deleted record was deleted (ms). */
  readonly deletedAt = new Map<string, number>();
  private indexes = new Map<string, { def: FieldDef; entries: Map<string, Set<string>> }>();

  constructor(public object: ObjectDef) {
    this.rebuildIndexes();
  }

  get size(): number {
    return this.rows.size;
  }

  get(id: string): StoredRecord | undefined {
    return this.rows.get(id);
  }

  /** Fields with an index: Id-like lookups on unique and external-id fields. */
  indexedFields(): FieldDef[] {
    return [...this.indexes.values()].map((i) => i.def);
  }

  /** Re-reads the object definition (a deploy may add unique or external-id fields). */
  rebuildIndexes(object: ObjectDef = this.object): void {
    this.object = object;
    this.indexes = new Map();
    for (const def of object.fields) {
      if (def.unique || def.externalId) this.indexes.set(def.name, { def, entries: new Map() });
    }
    for (const [id, row] of this.rows) this.addToIndexes(id, row);
  }

  private live(row: StoredRecord): boolean {
    return row.IsDeleted !== true;
  }

  private addToIndexes(id: string, row: StoredRecord): void {
    if (!this.live(row)) return;
    for (const { def, entries } of this.indexes.values()) {
      const key = indexKey(def, row[def.name] ?? null);
      if (key === undefined) continue;
      let set = entries.get(key);
      if (!set) entries.set(key, (set = new Set()));
      set.add(id);
    }
  }

  private removeFromIndexes(id: string, row: StoredRecord): void {
    for (const { def, entries } of this.indexes.values()) {
      const key = indexKey(def, row[def.name] ?? null);
      if (key === undefined) continue;
      const set = entries.get(key);
      set?.delete(id);
      if (set && set.size === 0) entries.delete(key);
    }
  }

  /** Stores `next` under `id` (undefined removes it); returns what was there. */
  put(id: string, next: StoredRecord | undefined): StoredRecord | undefined {
    const previous = this.rows.get(id);
    if (previous) this.removeFromIndexes(id, previous);
    if (next) {
      this.rows.set(id, next);
      this.addToIndexes(id, next);
    } else {
      this.rows.delete(id);
    }
    return previous;
  }

  /**
   * Ids of live records whose `field` equals `value` (case rules of the field). Uses the index
   * when the field has one; scans otherwise.
   */
  lookup(def: FieldDef, value: string): string[] {
    const key = indexKey(def, value);
    if (key === undefined) return [];
    const index = this.indexes.get(def.name);
    if (index) return [...(index.entries.get(key) ?? [])];
    const out: string[] = [];
    for (const [id, row] of this.rows) {
      if (this.live(row) && indexKey(def, row[def.name] ?? null) === key) out.push(id);
    }
    return out;
  }
}

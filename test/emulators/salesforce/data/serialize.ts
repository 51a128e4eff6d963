/**
 * Records as the REST API writes them: an `attributes` object (`type`, `url`) first, then fields
 * in describe order (retrieve) or in SELECT order (query), relationship fields as nested records
 * (`"Owner": { "attributes": {…}, "Email": "…" }`, or null).
 */
import type { Database } from './database';
import { formatValue, type StoredRecord } from './values';
import type { CompiledQuery } from '../soql/executor';
import type { FieldDef, ObjectDef } from '../schema/types';

export function recordUrl(version: string, objectName: string, id: unknown): string {
  return `/services/data/v${version}/sobjects/${objectName}/${String(id)}`;
}

export function recordJson(
  object: ObjectDef,
  row: StoredRecord,
  version: string,
  fields: FieldDef[] = object.fields,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    attributes: { type: object.name, url: recordUrl(version, object.name, row.Id) },
  };
  for (const def of fields) out[def.name] = formatValue(def, row[def.name]);
  return out;
}

export function projectRow(
  compiled: CompiledQuery,
  row: StoredRecord,
  version: string,
  db: Database,
): Record<string, unknown> {
  const out: Record<string, unknown> = {
    attributes: { type: compiled.object.name, url: recordUrl(version, compiled.object.name, row.Id) },
  };
  for (const column of compiled.columns) {
    if (!column.via) {
      out[column.field.name] = formatValue(column.field, row[column.field.name]);
      continue;
    }
    const key = column.path[0]!;
    if (out[key] === null) continue;
    let nested = out[key] as Record<string, unknown> | undefined;
    if (!nested) {
      const ref = row[column.via.name];
      const found = typeof ref === 'string' ? db.findById(ref) : undefined;
      if (!found) {
        out[key] = null;
        continue;
      }
      nested = {
        attributes: { type: found.object.name, url: recordUrl(version, found.object.name, found.record.Id) },
      };
      out[key] = nested;
    }
    nested[column.field.name] = formatValue(column.field, column.get(row));
  }
  return out;
}

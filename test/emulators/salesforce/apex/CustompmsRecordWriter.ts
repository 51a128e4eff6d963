/**
 * Mirrors force-app/main/default/classes/CustompmsRecordWriter.cls, line for line: turns the
 * proxy's field maps into SObjects (converting JSON values by the field's SOAP type), writes them
 * with partial success, and turns every outcome into a RecordResult (a written Task's with its
 * SystemModstamp, read in one query after the DML). The DML and that query run in system mode from
 * the inner `without sharing` SystemModeDml (a Task reassigned to a user the integration user
 * cannot see still syncs); only reviewed fields, or fields the running user may edit, are written.
 */
import { RecordError, RecordResult, type BatchEntry } from './CustompmsProxyClient';
import type {
  AccessLevelValue,
  Apex,
  DatabaseError,
  DatabaseResult,
  DescribeField,
  SObject,
  SObjectTypeToken,
} from './runtime';
import { SOBJECT_TYPE, stringValueOf } from './runtime';

export class Prepared {
  kind: string | null = null;
  records: SObject[] = [];
  keys: string[] = [];
  failures: RecordResult[] = [];
}

class InvalidRecordException extends Error {
  statusCode = '';
  field = '';
}

export class CustompmsRecordWriter {
  static readonly KIND_DIVISION = 'division';
  static readonly KIND_TASK = 'task';
  static readonly DIVISIONS_NOT_ENABLED = 'DIVISIONS_NOT_ENABLED';
  static readonly INVALID_FIELD = 'INVALID_FIELD';
  static readonly INVALID_VALUE = 'INVALID_FIELD_VALUE';
  static readonly FIELD_NOT_WRITABLE = 'INVALID_FIELD_FOR_INSERT_UPDATE';

  static readonly REVIEWED_FIELDS: ReadonlyMap<string, ReadonlySet<string>> = new Map([
    [
      'Task',
      new Set([
        'Id',
        'Subject',
        'Description',
        'Status',
        'Priority',
        'ActivityDate',
        'OwnerId',
        'Division',
        'Custompms_Id__c',
        'Custompms_Type__c',
        'Custompms_Project_Id__c',
        'Custompms_Sync_Status__c',
        'Custompms_Sync_Error__c',
        'Custompms_Last_Synced__c',
      ]),
    ],
    ['Division', new Set(['Id', 'Name', 'IsActive', 'SortOrder'])],
  ]);

  static divisionType(apex: Apex): SObjectTypeToken | undefined {
    return apex.Schema.getType('Division');
  }

  static prepareDivisions(apex: Apex, entries: BatchEntry[]): Prepared {
    return CustompmsRecordWriter.prepare(
      apex,
      CustompmsRecordWriter.KIND_DIVISION,
      CustompmsRecordWriter.divisionType(apex),
      entries,
    );
  }

  static prepareTasks(apex: Apex, entries: BatchEntry[]): Prepared {
    for (const entry of entries) {
      if (entry.record.Custompms_Id__c == null) {
        entry.record.Custompms_Id__c = entry.key;
      }
    }
    return CustompmsRecordWriter.prepare(
      apex,
      CustompmsRecordWriter.KIND_TASK,
      apex.Schema.getType('Task'),
      entries,
    );
  }

  static saveDivisions(apex: Apex, prepared: Prepared): RecordResult[] {
    const inserts: SObject[] = [];
    const insertKeys: string[] = [];
    const updates: SObject[] = [];
    const updateKeys: string[] = [];
    for (let i = 0; i < prepared.records.length; i++) {
      const record = prepared.records[i]!;
      if (record.Id == null) {
        inserts.push(record);
        insertKeys.push(prepared.keys[i]!);
      } else {
        updates.push(record);
        updateKeys.push(prepared.keys[i]!);
      }
    }
    const results: RecordResult[] = [...prepared.failures];
    if (inserts.length > 0) {
      for (const result of CustompmsRecordWriter.toResults(
        insertKeys,
        SystemModeDml.insertAll(apex, inserts),
      )) {
        results.push(result.success ? result.inserted(result.salesforceId) : result);
      }
    }
    if (updates.length > 0) {
      results.push(...CustompmsRecordWriter.toResults(updateKeys, SystemModeDml.updateAll(apex, updates)));
    }
    return results;
  }

  static upsertTasks(apex: Apex, prepared: Prepared): RecordResult[] {
    const results: RecordResult[] = [...prepared.failures];
    if (prepared.records.length === 0) {
      return results;
    }
    // Upsert on an external id needs a concretely typed list.
    const tasks: SObject[] = [];
    for (const record of prepared.records) {
      tasks.push(record);
    }
    const saved = SystemModeDml.upsertTasks(apex, tasks);
    const written = SystemModeDml.modstamps(apex, CustompmsRecordWriter.writtenIds(saved));
    for (let i = 0; i < saved.length; i++) {
      const outcome = saved[i]!;
      const result = new RecordResult(
        CustompmsRecordWriter.KIND_TASK,
        prepared.keys[i]!,
        CustompmsRecordWriter.toErrors(outcome.getErrors()),
      );
      // Only written Tasks are in the map: a failure (no id) stays without a stamp.
      const stamp = written.get(outcome.getId())?.SystemModstamp;
      result.systemModstamp = typeof stamp === 'number' ? new Date(stamp) : null;
      results.push(
        outcome.isSuccess() && outcome.isCreated()
          ? result.inserted(outcome.getId())
          : result.updated(outcome.getId()),
      );
    }
    return results;
  }

  private static prepare(
    apex: Apex,
    kind: string,
    type: SObjectTypeToken | undefined,
    entries: BatchEntry[],
  ): Prepared {
    const prepared = new Prepared();
    prepared.kind = kind;
    if (type == null) {
      for (const entry of entries) {
        prepared.failures.push(
          CustompmsRecordWriter.failure(
            kind,
            entry.key,
            new RecordError(
              CustompmsRecordWriter.DIVISIONS_NOT_ENABLED,
              'Divisions are not enabled in this org',
              null,
            ),
          ),
        );
      }
      return prepared;
    }
    const fields = type.fields();
    for (const entry of entries) {
      try {
        prepared.records.push(CustompmsRecordWriter.build(apex, type, fields, entry.record));
        prepared.keys.push(entry.key);
      } catch (e) {
        if (!(e instanceof InvalidRecordException)) throw e;
        prepared.failures.push(
          CustompmsRecordWriter.failure(kind, entry.key, new RecordError(e.statusCode, e.message, [e.field])),
        );
      }
    }
    return prepared;
  }

  private static build(
    apex: Apex,
    type: SObjectTypeToken,
    fields: Map<string, DescribeField>,
    values: Record<string, unknown>,
  ): SObject {
    const record = type.newSObject();
    for (const name of Object.keys(values)) {
      const field = fields.get(name.toLowerCase());
      if (field == null) {
        throw CustompmsRecordWriter.invalid(
          CustompmsRecordWriter.INVALID_FIELD,
          name,
          'No such field ' + name + ' on ' + record[SOBJECT_TYPE],
        );
      }
      const describe = field;
      if (!CustompmsRecordWriter.mayWrite(record[SOBJECT_TYPE], describe)) {
        throw CustompmsRecordWriter.invalid(
          CustompmsRecordWriter.FIELD_NOT_WRITABLE,
          name,
          name + ' is not a reviewed sync field and the integration user may not edit it',
        );
      }
      try {
        apex.put(record, describe.getName(), CustompmsRecordWriter.convert(apex, describe, values[name]));
      } catch (e) {
        // Any conversion failure (wrong JSON type, bad date, malformed id) belongs to this record only.
        throw CustompmsRecordWriter.invalid(
          CustompmsRecordWriter.INVALID_VALUE,
          name,
          'Bad value for ' + name + ': ' + (e as Error).message,
        );
      }
    }
    return record;
  }

  private static mayWrite(type: string, field: DescribeField): boolean {
    const reviewed = CustompmsRecordWriter.REVIEWED_FIELDS.get(type);
    return (
      (reviewed != null && reviewed.has(field.getName())) || (field.isCreateable() && field.isUpdateable())
    );
  }

  // JSON carries dates and datetimes as strings and numbers as Integer/Long/Decimal; put() wants the
  // field's own type.
  private static convert(apex: Apex, field: DescribeField, value: unknown): unknown {
    if (value == null) {
      return null;
    }
    switch (field.getSoapType()) {
      case 'DATE':
        if (typeof value !== 'string')
          throw new TypeError(`Invalid conversion from runtime type ${typeof value} to String`);
        return apex.dateValueOf(value);
      case 'DATETIME':
        return apex.datetimeFromJson(value);
      case 'BOOLEAN':
        if (typeof value !== 'boolean')
          throw new TypeError(`Invalid conversion from runtime type ${typeof value} to Boolean`);
        return value;
      case 'INTEGER':
        return Math.trunc(decimalValueOf(stringValueOf(value)));
      case 'DOUBLE':
        return decimalValueOf(stringValueOf(value));
      default:
        return stringValueOf(value);
    }
  }

  // Division results; the caller marks the inserted ones.
  private static toResults(keys: string[], saved: DatabaseResult[]): RecordResult[] {
    const results: RecordResult[] = [];
    for (let i = 0; i < saved.length; i++) {
      const outcome = saved[i]!;
      results.push(
        new RecordResult(
          CustompmsRecordWriter.KIND_DIVISION,
          keys[i]!,
          CustompmsRecordWriter.toErrors(outcome.getErrors()),
        ).updated(outcome.getId()),
      );
    }
    return results;
  }

  private static writtenIds(saved: DatabaseResult[]): Set<string> {
    const ids = new Set<string>();
    for (const outcome of saved) {
      if (outcome.isSuccess()) {
        ids.add(outcome.getId()!);
      }
    }
    return ids;
  }

  private static toErrors(errors: DatabaseError[]): RecordError[] {
    const converted: RecordError[] = [];
    for (const error of errors) {
      converted.push(new RecordError(error.getStatusCode(), error.getMessage(), error.getFields()));
    }
    return converted;
  }

  private static failure(kind: string, key: string, error: RecordError): RecordResult {
    return new RecordResult(kind, key, [error]);
  }

  private static invalid(statusCode: string, field: string, message: string): InvalidRecordException {
    const error = new InvalidRecordException(message);
    error.statusCode = statusCode;
    error.field = field;
    return error;
  }
}

/**
 * The inner `private without sharing class SystemModeDml`: the only place the sync's DML runs, in
 * system mode and without sharing.
 */
class SystemModeDml {
  private static readonly MODE = {
    accessLevel: 'SYSTEM_MODE' as AccessLevelValue,
    sharing: 'without' as const,
  };

  static insertAll(apex: Apex, records: SObject[]): DatabaseResult[] {
    return apex.Database.insert(records, false, SystemModeDml.MODE);
  }

  static updateAll(apex: Apex, records: SObject[]): DatabaseResult[] {
    return apex.Database.update(records, false, SystemModeDml.MODE);
  }

  static upsertTasks(apex: Apex, tasks: SObject[]): DatabaseResult[] {
    return apex.Database.upsert(tasks, 'Custompms_Id__c', false, SystemModeDml.MODE);
  }

  // Apex: [SELECT Id, SystemModstamp FROM Task WHERE Id IN :ids WITH SYSTEM_MODE]. The emulator's
  // SOQL has no bind variables: the ids (the org's own) are written into the query.
  static modstamps(apex: Apex, ids: Set<string>): Map<string | null, SObject> {
    if (ids.size === 0) {
      return new Map();
    }
    const rows = apex.soql(
      `SELECT Id, SystemModstamp FROM Task WHERE Id IN (${[...ids].map((id) => `'${id}'`).join(', ')})`,
      SystemModeDml.MODE,
    );
    return new Map(rows.map((row) => [row.Id as string, row]));
  }
}

/** `Decimal.valueOf(String)`: throws TypeException on anything but a number. */
function decimalValueOf(text: string): number {
  const n = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(n)) throw new TypeError(`Invalid decimal: ${text}`);
  return n;
}

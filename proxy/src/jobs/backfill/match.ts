/**
 * Matching a page of Custompms records to the Salesforce records they may already have: Tasks by
 * `Custompms_Id__c` (and linked ones by Id), Divisions by their link or by exact name. A match
 * is the planner's counterpart; a record Salesforce holds for someone else, or an ambiguous
 * name, is a failure, never a guess.
 */
import type { Link, RawRecord } from '../../sync';
import { linksBySalesforceIds } from '../../store/links';
import { chunk, soqlString } from '../../salesforce/operations';
import { TASK_FIELDS } from '../salesforce-changes';
import { canonicalId } from '../write/salesforce';
import type { Counterpart } from './decide';
import type { CustompmsRow, FlowRun } from './state';

/** SOQL `IN` lists stay well below the URI length limit. */
const IN_LIMIT = 200;
const DIVISION_FIELDS = ['Id', 'Name', 'IsActive', 'SystemModstamp', 'LastModifiedDate', 'LastModifiedById'];

/** Salesforce Tasks for a page: by `Custompms_Id__c`, and linked ones by Id. */
export async function taskCounterparts(
  state: FlowRun,
  records: readonly CustompmsRow[],
  links: Map<string, Link>,
): Promise<Map<string, Counterpart>> {
  const { salesforce, flow, deps } = state;
  const fields = [...TASK_FIELDS, ...((await salesforce.org.hasDivisions()) ? ['Division'] : [])].join(', ');
  const byCustompmsId = new Map<string, RawRecord>();
  const byId = new Map<string, RawRecord>();
  // The page's IN lists are queried at once (a page is a few of them), then read in order.
  const found = await Promise.all(
    chunk(
      records.map((record) => record.id),
      IN_LIMIT,
    ).map(async (part) => {
      const tasks: (RawRecord & { Id: string })[] = [];
      for await (const task of salesforce.operations.query<RawRecord & { Id: string }>(
        `SELECT ${fields} FROM Task WHERE Custompms_Id__c IN (${part.map(soqlString).join(', ')})`,
      )) {
        tasks.push(task);
      }
      return tasks;
    }),
  );
  for (const task of found.flat()) {
    byCustompmsId.set(String(task.Custompms_Id__c), task);
    byId.set(task.Id, task);
  }
  const missing = [...links.values()]
    .map((link) => link.salesforceId)
    .filter((id): id is string => id !== null && !byId.has(id));
  for (const part of chunk(missing, IN_LIMIT)) {
    for await (const task of salesforce.operations.query<RawRecord & { Id: string }>(
      `SELECT ${fields} FROM Task WHERE Id IN (${part.map(soqlString).join(', ')})`,
    )) {
      byId.set(canonicalId(task.Id), task);
    }
  }
  // A Task linked to another Custompms record is not this record's counterpart.
  const owners = new Map(
    (
      await linksBySalesforceIds(
        deps.pool,
        flow.name,
        [...byCustompmsId.values()].map((task) => canonicalId(String(task.Id))),
      )
    ).map((link) => [link.salesforceId!, link.custompmsId]),
  );
  const result = new Map<string, Counterpart>();
  for (const record of records) {
    const link = links.get(record.id);
    const linked = link?.salesforceId ? byId.get(link.salesforceId) : undefined;
    const task = linked ?? byCustompmsId.get(record.id);
    if (!task) continue;
    const owner = owners.get(canonicalId(String(task.Id)));
    if (!link && owner !== undefined && owner !== null && owner !== record.id) {
      result.set(record.id, {
        failure: {
          code: 'salesforce_record_linked_elsewhere',
          message: `Task ${String(task.Id)} carries this Custompms id but is linked to ${owner}`,
        },
      });
      continue;
    }
    result.set(record.id, { record: task });
  }
  return result;
}

/**
 * Divisions for a page: the linked one by Id, else one whose Name equals the customer's name
 * (trimmed, case-insensitive; Division takes no custom fields to match on). Several candidates,
 * or several customers of the page claiming one Division, fail as ambiguous: never a guess.
 */
export async function divisionCounterparts(
  state: FlowRun,
  records: readonly CustompmsRow[],
  links: Map<string, Link>,
): Promise<Map<string, Counterpart>> {
  const { salesforce, flow, deps } = state;
  const nameOf = (record: RawRecord) => (typeof record.name === 'string' ? record.name : '');
  const key = (name: string) => name.trim().toLowerCase();
  const unlinked = records.filter((record) => !links.get(record.id)?.salesforceId);
  const byName = new Map<string, RawRecord[]>();
  const byId = new Map<string, RawRecord>();
  // Every Division, read again for each page: an org has few (a setup object), the match must be
  // trimmed and case-insensitive (SOQL cannot trim), and a page re-read after a crash must see a
  // Division created just before it.
  for await (const division of salesforce.operations.query<RawRecord & { Id: string; Name: string }>(
    `SELECT ${DIVISION_FIELDS.join(', ')} FROM Division`,
  )) {
    const id = canonicalId(division.Id);
    byId.set(id, division);
    byName.set(key(division.Name), [...(byName.get(key(division.Name)) ?? []), division]);
  }
  const candidateIds = [...byName.values()].flat().map((division) => canonicalId(String(division.Id)));
  const taken = new Set(
    (await linksBySalesforceIds(deps.pool, flow.name, candidateIds)).map((link) => link.salesforceId!),
  );
  const claims = new Map<string, number>();
  const matches = new Map<string, RawRecord[]>();
  for (const record of unlinked) {
    const free = (byName.get(key(nameOf(record))) ?? []).filter(
      (division) => !taken.has(canonicalId(String(division.Id))),
    );
    matches.set(record.id, free);
    if (free.length === 1) {
      const id = canonicalId(String(free[0]!.Id));
      claims.set(id, (claims.get(id) ?? 0) + 1);
    }
  }
  const result = new Map<string, Counterpart>();
  for (const record of records) {
    const link = links.get(record.id);
    if (link?.salesforceId) {
      const division = byId.get(link.salesforceId);
      if (division) result.set(record.id, { record: division });
      continue;
    }
    const free = matches.get(record.id) ?? [];
    if (free.length > 1) {
      result.set(record.id, {
        failure: {
          code: 'ambiguous_division_name',
          message: `${free.length} Divisions are named ${JSON.stringify(nameOf(record).trim())}: rename or link one by hand`,
        },
      });
    } else if (free.length === 1) {
      const id = canonicalId(String(free[0]!.Id));
      if ((claims.get(id) ?? 0) > 1) {
        result.set(record.id, {
          failure: {
            code: 'ambiguous_division_name',
            message: `several customers named ${JSON.stringify(nameOf(record).trim())} would pair with Division ${id}`,
          },
        });
      } else result.set(record.id, { record: free[0]! });
    }
  }
  return result;
}

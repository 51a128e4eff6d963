/**
 * Builds the sync core's `SyncContext` for a set of records: the owner directory, whether the org
 * has divisions, and the links of the customers and projects the records refer to — loaded with
 * a few targeted queries, so memory stays flat however many links exist.
 */
import type { RawRecord, SyncContext, Link, LinkedProject } from '../sync';
import { ownerDirectory } from '../sync';
import { linksByCustompmsIds, linksBySalesforceIds } from '../store/links';
import type { Queryable } from '../store/transaction';
import type { SalesforceServices } from './deps';

const CUSTOMER_REFERENCES = ['customer_id'];
const PROJECT_REFERENCES = ['project_id', 'Custompms_Project_Id__c'];
const DIVISION_REFERENCES = ['Division'];

function collect(records: readonly RawRecord[], names: readonly string[]): string[] {
  const ids = new Set<string>();
  for (const record of records) {
    for (const name of names) {
      const value = record[name];
      if (typeof value === 'string' && value !== '') ids.add(value);
    }
  }
  return [...ids];
}

function customerOf(link: Link): string | null {
  const value = link.snapshot.custompms.customer_id;
  return typeof value === 'string' ? value : null;
}

export async function buildSyncContext(
  db: Queryable,
  salesforce: SalesforceServices,
  records: readonly RawRecord[],
  extra: { customerIds?: string[]; divisionIds?: string[] } = {},
): Promise<SyncContext> {
  const [divisionsEnabled, users] = await Promise.all([
    salesforce.org.hasDivisions(),
    salesforce.org.listUsers(),
  ]);

  const projects = await linksByCustompmsIds(db, 'projects', collect(records, PROJECT_REFERENCES));
  const linkedProjects = new Map<string, LinkedProject>();
  for (const project of projects) {
    if (project.custompmsId && project.status === 'active') {
      linkedProjects.set(project.custompmsId, { customerId: customerOf(project) });
    }
  }

  const customerIds = new Set([...collect(records, CUSTOMER_REFERENCES), ...(extra.customerIds ?? [])]);
  for (const project of linkedProjects.values()) if (project.customerId) customerIds.add(project.customerId);
  const divisionIds = [...collect(records, DIVISION_REFERENCES), ...(extra.divisionIds ?? [])];
  const customers = [
    ...(await linksByCustompmsIds(db, 'customers', [...customerIds])),
    ...(await linksBySalesforceIds(db, 'customers', divisionIds)),
  ];
  const divisionByCustomer = new Map<string, string>();
  const customerByDivision = new Map<string, string>();
  for (const customer of customers) {
    if (!customer.custompmsId || !customer.salesforceId || customer.status !== 'active') continue;
    divisionByCustomer.set(customer.custompmsId, customer.salesforceId);
    customerByDivision.set(customer.salesforceId, customer.custompmsId);
  }

  return {
    divisionsEnabled,
    owners: ownerDirectory(users, salesforce.integrationUserId),
    divisionByCustomer,
    customerByDivision,
    linkedProjects,
  };
}

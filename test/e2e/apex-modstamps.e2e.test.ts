/**
 * Apex write path, the cost of a batch: the org's CustompmsRecordWriter reports each written
 * Task's SystemModstamp in the batch results (CustompmsProxyClient.RecordResult.systemModstamp),
 * so the proxy records it as the Salesforce version of the fields written without reading it
 * back with a `SELECT Id, SystemModstamp FROM Task WHERE Id IN (...)` of its own (one API call
 * per batch). */
import { SalesforceOperations } from '../../proxy/src/salesforce/operations';
import { adminConnection, quiet, startWorld, type World } from '../support/e2e';
import { eventually } from '../support/eventually';

jest.setTimeout(180_000);

const TASKS = 5;
const READ_BACK = /SELECT\s+Id\s*,\s*SystemModstamp\s+FROM\s+Task\s+WHERE\s+Id\s+IN\b/i;

describe('Apex write path: the org reports each Task SystemModstamp with its results', () => {
  let world: World;
  let queries: jest.SpiedFunction<SalesforceOperations['query']>;
  beforeAll(async () => {
    world = await startWorld({ writePath: 'apex' });
  });
  beforeEach(() => {
    // Every SOQL query the proxy runs goes through SalesforceOperations.query.
    queries = jest.spyOn(SalesforceOperations.prototype, 'query');
  });
  afterEach(() => {
    queries.mockRestore();
  });
  afterAll(async () => {
    await world?.stop();
  });

  it('links new Tasks at the SystemModstamp the org reported, without reading it back', async () => {
    const { controls } = world.cpms;
    const customer = controls.create('customers', { name: 'Stamped', is_active: true });
    const project = controls.create('projects', {
      customer_id: customer.id,
      name: 'Stamped',
      status: 'active',
    });
    const tasks = Array.from({ length: TASKS }, (_, index) =>
      controls.create('tasks', { project_id: project.id, title: `Stamped task ${index}`, status: 'todo' }),
    );
    const ids = [project.id, ...tasks.map((task) => task.id)];

    const conn = adminConnection(world);
    type Row = { Id: string; Custompms_Id__c: string; SystemModstamp: string };
    await eventually(
      async () =>
        (
          await conn.query<Row>(
            `SELECT Id FROM Task WHERE Custompms_Id__c IN (${ids.map((id) => `'${id}'`).join(', ')})`,
          )
        ).records.length === ids.length,
      { what: 'the project and its tasks in Salesforce', timeoutMs: 90_000 },
    );
    await quiet(world);

    const rows = (
      await conn.query<Row>(
        `SELECT Id, Custompms_Id__c, SystemModstamp FROM Task WHERE Custompms_Id__c IN (${ids
          .map((id) => `'${id}'`)
          .join(', ')})`,
      )
    ).records;
    const links = await world.db.pool.query<{
      custompms_id: string;
      salesforce_id: string;
      written: Record<string, string> | null;
    }>(
      `SELECT custompms_id, salesforce_id, link->'salesforce'->'written' AS written
         FROM links WHERE flow IN ('projects', 'tasks') AND custompms_id = ANY($1)`,
      [ids],
    );
    // An upsert is blind: the stamp it produced is the Salesforce version of each field it wrote
    // (SideState.written), so the org's notification of that version is not taken for news. REST
    // answers `…+0000`; a link holds the canonical UTC form.
    const versions = (written: Record<string, string> | null) => [...new Set(Object.values(written ?? {}))];
    expect(
      Object.fromEntries(
        links.rows.map((row) => [
          row.custompms_id,
          { id: row.salesforce_id, versions: versions(row.written) },
        ]),
      ),
    ).toEqual(
      Object.fromEntries(
        rows.map((row) => [
          row.Custompms_Id__c,
          { id: row.Id, versions: [new Date(row.SystemModstamp).toISOString()] },
        ]),
      ),
    );

    // The org's reports carried the stamps (as Apex serialises a Datetime) ...
    const reports = await world.db.pool.query<{
      payload: { results: { kind: string; key: string; success: boolean; systemModstamp?: string }[] };
    }>("SELECT payload FROM inbox_messages WHERE source = 'salesforce.results'");
    const reported = reports.rows
      .flatMap((row) => row.payload.results)
      .filter((result) => result.kind === 'task' && ids.includes(result.key));
    expect(reported.map((result) => result.key).sort()).toEqual([...ids].sort());
    for (const result of reported) {
      expect(result).toMatchObject({
        success: true,
        systemModstamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
      });
    }
    // ... so the proxy did not read them back.
    const soql = queries.mock.calls.map(([text]) => text);
    expect(soql.filter((text) => READ_BACK.test(text))).toEqual([]);
  });
});

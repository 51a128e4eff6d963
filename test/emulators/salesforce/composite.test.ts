/**
 * The Composite resource (`POST /services/data/vNN.0/composite`, http/composite.ts): one API
 * call for up to 25 subrequests, each answered by the same handler, user, access rules and
 * faults as the same call on its own; references between subrequests; allOrNone; collation; the
 * documented limits refused with Salesforce's error format.
 */
import type { Connection } from 'jsforce';
import { parseJsonRecord } from './data/values';
import { API_VERSION, connect, fullAccessUser, rejection } from './helpers';
import { recordsInRequest } from './latency';
import { startSalesforceEmulator, type SalesforceEmulator } from './server';
import { STANDARD_USER } from './security/profiles';

interface Subresponse {
  body: unknown;
  httpHeaders: Record<string, string>;
  httpStatusCode: number;
  referenceId: string;
}

const base = `/services/data/v${API_VERSION}`;
const soql = (query: string) => `${base}/query?q=${encodeURIComponent(query)}`;

describe('Salesforce emulator Composite resource', () => {
  let sf: SalesforceEmulator;
  let conn: Connection;
  let run = 0;

  beforeAll(async () => {
    sf = await startSalesforceEmulator({ deployForceApp: true });
    conn = connect(sf);
  });
  afterAll(async () => {
    await sf.close();
  });
  afterEach(() => {
    sf.org.faults.clear();
  });

  /** A marker unique to the test, for its records' subjects. */
  const tag = () => `c${(run += 1)}`;

  const composite = async (body: Record<string, unknown>, as: Connection = conn): Promise<Subresponse[]> =>
    (
      await as.request<{ compositeResponse: Subresponse[] }>({
        method: 'POST',
        url: `${base}/composite`,
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      })
    ).compositeResponse;

  const subjects = async (like: string): Promise<string[]> =>
    (
      await conn.query<{ Subject: string }>(
        `SELECT Subject FROM Task WHERE Subject LIKE '${like}%' ORDER BY Subject`,
      )
    ).records.map((row) => row.Subject);

  it('runs collections, rows and a query in one API call, answering each subrequest in request order', async () => {
    const t = tag();
    const before = sf.apiUsage();
    const responses = await composite({
      allOrNone: false,
      collateSubrequests: false,
      compositeRequest: [
        {
          method: 'POST',
          url: `${base}/composite/sobjects`,
          referenceId: 'created',
          body: {
            allOrNone: false,
            records: [
              { attributes: { type: 'Task' }, Subject: `${t} one` },
              { attributes: { type: 'Task' }, Subject: `${t} two` },
            ],
          },
        },
        {
          method: 'POST',
          url: `${base}/sobjects/Task`,
          referenceId: 'single',
          body: { Subject: `${t} three` },
        },
        {
          method: 'GET',
          url: soql(`SELECT Subject FROM Task WHERE Subject LIKE '${t} %' ORDER BY Subject`),
          referenceId: 'read',
        },
      ],
    });
    const after = sf.apiUsage();
    expect(after.used - before.used).toBe(1);
    expect((after.byCategory.composite ?? 0) - (before.byCategory.composite ?? 0)).toBe(1);
    expect(after.byCategory.query ?? 0).toBe(before.byCategory.query ?? 0);
    expect(after.compositeSubrequests - before.compositeSubrequests).toBe(3);

    expect(responses.map((r) => [r.referenceId, r.httpStatusCode])).toEqual([
      ['created', 200],
      ['single', 201],
      ['read', 200],
    ]);
    expect(responses[0]!.body).toEqual([
      { id: expect.stringMatching(/^00T/), success: true, errors: [] },
      { id: expect.stringMatching(/^00T/), success: true, errors: [] },
    ]);
    const single = responses[1]!;
    expect(single.body).toMatchObject({ id: expect.stringMatching(/^00T/), success: true, errors: [] });
    expect(single.httpHeaders).toEqual({
      Location: `${base}/sobjects/Task/${(single.body as { id: string }).id}`,
    });
    expect(responses[2]!.body).toMatchObject({
      totalSize: 3,
      done: true,
      records: [{ Subject: `${t} one` }, { Subject: `${t} three` }, { Subject: `${t} two` }],
    });
  });

  it('resolves references to earlier answers in urls and bodies', async () => {
    // A reference in a url is written as is (`@{…}`), the rest of the query string URL-encoded.
    const t = tag();
    const responses = await composite({
      compositeRequest: [
        {
          method: 'POST',
          url: `${base}/sobjects/Task`,
          referenceId: 'newTask',
          body: { Subject: `${t} first` },
        },
        {
          method: 'GET',
          url: `${base}/sobjects/Task/@{newTask.id}?fields=Id,Subject`,
          referenceId: 'fetched',
        },
        {
          method: 'PATCH',
          url: `${base}/sobjects/Task/@{newTask.id}`,
          referenceId: 'renamed',
          body: { Description: 'was @{fetched.Subject}' },
        },
        {
          method: 'GET',
          url: `${soql('SELECT Id, Description FROM Task WHERE Id = ')}'@{newTask.id}'`,
          referenceId: 'read',
        },
        {
          method: 'POST',
          url: `${base}/composite/sobjects`,
          referenceId: 'copies',
          body: { records: [{ attributes: { type: 'Task' }, Subject: '@{read.records[0].Description}' }] },
        },
      ],
    });
    expect(responses.map((r) => r.httpStatusCode)).toEqual([201, 200, 204, 200, 200]);
    const id = (responses[0]!.body as { id: string }).id;
    expect(responses[1]!.body).toMatchObject({ Id: id, Subject: `${t} first` });
    expect(responses[2]!.body).toBeNull();
    expect(responses[3]!.body).toMatchObject({ records: [{ Id: id, Description: `was ${t} first` }] });
    expect(await subjects(`was ${t}`)).toEqual([`was ${t} first`]);
  });

  it('allOrNone false: a failed subrequest applies nothing, its dependents halt, the others run', async () => {
    const t = tag();
    const responses = await composite({
      allOrNone: false,
      compositeRequest: [
        {
          method: 'POST',
          url: `${base}/sobjects/Task`,
          referenceId: 'bad',
          body: { Subject: 'x'.repeat(256) },
        },
        {
          method: 'PATCH',
          url: `${base}/sobjects/Task/@{bad.id}`,
          referenceId: 'dependent',
          body: { Subject: `${t} no` },
        },
        { method: 'POST', url: `${base}/sobjects/Task`, referenceId: 'good', body: { Subject: `${t} yes` } },
        {
          method: 'POST',
          url: `${base}/composite/sobjects`,
          referenceId: 'partly',
          body: {
            allOrNone: false,
            records: [
              { attributes: { type: 'Task' }, Subject: `${t} kept` },
              { attributes: { type: 'Task' }, Subject: 'y'.repeat(256) },
            ],
          },
        },
      ],
    });
    expect(responses[0]).toMatchObject({
      httpStatusCode: 400,
      body: [expect.objectContaining({ errorCode: 'STRING_TOO_LONG', fields: ['Subject'] })],
    });
    expect(responses[1]).toEqual({
      body: [
        {
          errorCode: 'PROCESSING_HALTED',
          message: 'Invalid reference specified. No value for bad.id found in bad.',
        },
      ],
      httpHeaders: {},
      httpStatusCode: 400,
      referenceId: 'dependent',
    });
    expect(responses[2]!.httpStatusCode).toBe(201);
    expect(responses[3]!.body).toEqual([
      { id: expect.stringMatching(/^00T/), success: true, errors: [] },
      { success: false, errors: [expect.objectContaining({ statusCode: 'STRING_TOO_LONG' })] },
    ]);
    expect(await subjects(t)).toEqual([`${t} kept`, `${t} yes`]);
  });

  it('allOrNone true: one failure rolls the whole request back, collections included', async () => {
    const t = tag();
    const responses = await composite({
      allOrNone: true,
      compositeRequest: [
        {
          method: 'POST',
          url: `${base}/sobjects/Task`,
          referenceId: 'first',
          body: { Subject: `${t} first` },
        },
        {
          method: 'POST',
          url: `${base}/composite/sobjects`,
          referenceId: 'batch',
          // Its own allOrNone false is overridden by the request's.
          body: {
            allOrNone: false,
            records: [
              { attributes: { type: 'Task' }, Subject: `${t} fine` },
              { attributes: { type: 'Task' }, Subject: 'z'.repeat(256) },
            ],
          },
        },
        {
          method: 'POST',
          url: `${base}/sobjects/Task`,
          referenceId: 'after',
          body: { Subject: `${t} after` },
        },
      ],
    });
    const rolledBack = {
      errorCode: 'PROCESSING_HALTED',
      message: 'The transaction was rolled back since another operation in the same transaction failed.',
    };
    expect(responses[0]).toEqual({
      body: [rolledBack],
      httpHeaders: {},
      httpStatusCode: 400,
      referenceId: 'first',
    });
    expect(responses[1]).toMatchObject({
      httpStatusCode: 200,
      body: [
        {
          success: false,
          errors: [expect.objectContaining({ statusCode: 'ALL_OR_NONE_OPERATION_ROLLED_BACK' })],
        },
        { success: false, errors: [expect.objectContaining({ statusCode: 'STRING_TOO_LONG' })] },
      ],
    });
    expect(responses[2]).toEqual({
      body: [rolledBack],
      httpHeaders: {},
      httpStatusCode: 400,
      referenceId: 'after',
    });
    expect(await subjects(t)).toEqual([]);
  });

  it('collates subrequests unless told not to: the order of execution is not the order listed', async () => {
    const countWith = async (collateSubrequests: boolean | undefined) => {
      const t = tag();
      const responses = await composite({
        ...(collateSubrequests === undefined ? {} : { collateSubrequests }),
        compositeRequest: [
          { method: 'POST', url: `${base}/sobjects/Task`, referenceId: 'a', body: { Subject: `${t} a` } },
          {
            method: 'GET',
            url: soql(`SELECT COUNT() FROM Task WHERE Subject LIKE '${t} %'`),
            referenceId: 'count',
          },
          { method: 'POST', url: `${base}/sobjects/Task`, referenceId: 'b', body: { Subject: `${t} b` } },
        ],
      });
      return (responses[1]!.body as { totalSize: number }).totalSize;
    };
    // Default from API 49.0: collated (both creates ran before the query).
    expect(await countWith(undefined)).toBe(2);
    expect(await countWith(false)).toBe(1);
  });

  it('runs every subrequest as the session user, with their record and field access', async () => {
    const t = tag();
    const username = `${t}@composite.test`;
    const user = sf.org.users.create({ username, email: username, lastName: 'Rep', profile: STANDARD_USER });
    const task = sf.org.schema.object('Task')!;
    sf.org.transaction(sf.org.adminUserId, (tx) =>
      tx.insert('Task', [parseJsonRecord(task, { Subject: `${t} admin's` })]),
    );
    const rep = connect(sf, username);
    const responses = await composite(
      {
        compositeRequest: [
          {
            method: 'POST',
            url: `${base}/sobjects/Task`,
            referenceId: 'mine',
            body: { Subject: `${t} rep's` },
          },
          {
            method: 'GET',
            url: soql(`SELECT Subject, OwnerId FROM Task WHERE Subject LIKE '${t}%'`),
            referenceId: 'seen',
          },
          {
            method: 'GET',
            url: soql('SELECT Id FROM Task WHERE Custompms_Id__c = null'),
            referenceId: 'hidden',
          },
        ],
      },
      rep,
    );
    expect(responses[1]!.body).toMatchObject({
      totalSize: 1,
      records: [{ Subject: `${t} rep's`, OwnerId: user.Id }],
    });
    // Field-level security: the Standard User profile has no access to force-app's fields.
    expect(responses[2]).toMatchObject({
      httpStatusCode: 400,
      body: [expect.objectContaining({ errorCode: 'INVALID_FIELD' })],
    });
  });

  it('refuses the documented limits and malformed subrequests as a whole, in the error format', async () => {
    const task = (n: number) => ({
      method: 'POST',
      url: `${base}/sobjects/Task`,
      referenceId: `t${n}`,
      body: { Subject: `limit ${n}` },
    });
    const refused = async (body: Record<string, unknown>) => {
      const error = await rejection(composite(body));
      return { errorCode: error.errorCode, message: error.message };
    };
    const before = await subjects('limit ');
    expect(await refused({ compositeRequest: Array.from({ length: 26 }, (_, n) => task(n)) })).toMatchObject({
      errorCode: 'LIMIT_EXCEEDED',
      message: expect.stringContaining('25'),
    });
    const queries = Array.from({ length: 3 }, (_, n) => ({
      method: 'GET',
      url: soql('SELECT Id FROM Task'),
      referenceId: `q${n}`,
    }));
    const collections = Array.from({ length: 3 }, (_, n) => ({
      method: 'POST',
      url: `${base}/composite/sobjects`,
      referenceId: `c${n}`,
      body: { records: [{ attributes: { type: 'Task' }, Subject: `limit c${n}` }] },
    }));
    expect(await refused({ compositeRequest: [...queries, ...collections] })).toMatchObject({
      errorCode: 'LIMIT_EXCEEDED',
      message: expect.stringContaining('5'),
    });
    const invalid = [
      { ...task(1), referenceId: 'bad[1]' },
      { ...task(1), referenceId: '_leading' },
      { ...task(1), method: 'post' },
      { ...task(1), url: '/sobjects/Task' },
      { ...task(1), url: `${base}/limits` },
      { ...task(1), url: `${base}/composite` },
      { ...task(1), httpHeaders: { Authorization: 'Bearer x' } },
      { ...task(1), url: `/services/data/v99.0/sobjects/Task` },
    ];
    for (const sub of invalid) {
      expect(await refused({ compositeRequest: [task(0), sub] })).toMatchObject({
        errorCode: 'INVALID_INPUT',
      });
    }
    expect(await refused({ compositeRequest: [task(0), { ...task(1), referenceID: 't1' }] })).toMatchObject({
      errorCode: 'JSON_PARSER_ERROR',
    });
    expect(await refused({ compositeRequest: [task(0), task(0)] })).toMatchObject({
      errorCode: 'INVALID_INPUT',
    });
    expect(await refused({ compositeRequest: [] })).toMatchObject({ errorCode: 'JSON_PARSER_ERROR' });
    // Nothing ran.
    expect(await subjects('limit ')).toEqual(before);
  });

  it('draws each subrequest its own route’s faults: lock failures per record, a 503 for that subrequest only', async () => {
    const t = tag();
    sf.org.faults.failNext('composite', 'lockRow', 1);
    sf.org.faults.failNext('query', 'unavailable');
    const responses = await composite({
      compositeRequest: [
        {
          method: 'POST',
          url: `${base}/composite/sobjects`,
          referenceId: 'locked',
          body: {
            records: [
              { attributes: { type: 'Task' }, Subject: `${t} lock 1` },
              { attributes: { type: 'Task' }, Subject: `${t} lock 2` },
            ],
          },
        },
        { method: 'GET', url: soql('SELECT Id FROM Task LIMIT 1'), referenceId: 'read' },
        {
          method: 'POST',
          url: `${base}/sobjects/Task`,
          referenceId: 'single',
          body: { Subject: `${t} single` },
        },
      ],
    });
    expect(responses[0]!.body).toEqual([
      { success: false, errors: [expect.objectContaining({ statusCode: 'UNABLE_TO_LOCK_ROW' })] },
      { id: expect.stringMatching(/^00T/), success: true, errors: [] },
    ]);
    expect(responses[1]).toMatchObject({
      httpStatusCode: 503,
      body: [{ errorCode: 'SERVER_UNAVAILABLE', message: 'Service Unavailable' }],
    });
    expect(responses[2]!.httpStatusCode).toBe(201);
    expect(await subjects(t)).toEqual([`${t} lock 2`, `${t} single`]);
  });

  it('fails as a whole when the session expires (401, nothing applied) or the request is refused (503)', async () => {
    const t = tag();
    const body = {
      compositeRequest: [
        { method: 'POST', url: `${base}/sobjects/Task`, referenceId: 'x', body: { Subject: `${t} x` } },
      ],
    };
    const own = connect(sf, fullAccessUser(sf));
    sf.org.faults.failNext('composite', 'sessionExpired');
    expect((await rejection(composite(body, own))).errorCode).toBe('INVALID_SESSION_ID');
    // The token died with the session.
    expect((await rejection(own.query('SELECT Id FROM Task LIMIT 1'))).errorCode).toBe('INVALID_SESSION_ID');
    // A session that expires on a subrequest's route is the request's too.
    sf.org.faults.failNext(/^POST \/sobjects\/Task$/, 'sessionExpired');
    expect((await rejection(composite(body))).errorCode).toBe('INVALID_SESSION_ID');
    conn = connect(sf);
    sf.org.faults.failNext('composite', 'unavailable');
    expect((await rejection(composite(body))).errorCode).toBe('ERROR_HTTP_503');
    expect(await subjects(t)).toEqual([]);
  });

  it('prices its server time by the records its subrequests carry, as the same calls on their own', () => {
    const records = (n: number) => Array.from({ length: n }, () => ({ attributes: { type: 'Task' } }));
    expect(
      recordsInRequest(
        'composite',
        'POST',
        {
          compositeRequest: [
            { method: 'POST', url: `${base}/composite/sobjects`, body: { records: records(3) } },
            {
              method: 'PATCH',
              url: `${base}/composite/sobjects/Task/Custompms_Id__c`,
              body: { records: records(2) },
            },
            { method: 'DELETE', url: `${base}/composite/sobjects?ids=00T000000000001,00T000000000002` },
            { method: 'POST', url: `${base}/sobjects/Task`, body: {} },
            { method: 'GET', url: soql('SELECT Id FROM Task') },
          ],
        },
        {},
      ),
    ).toBe(3 + 2 + 2 + 1);
  });
});

/** The Bulk API 2.0 adapter's parsing and streaming, without an org: errors, CSV results, retries. */
import type { SalesforceClient } from '../../../proxy/src/salesforce/client';
import { Bulk2Ingest, parseBulkError } from '../../../proxy/src/salesforce/bulk2';

function fakeClient(): SalesforceClient {
  return {
    conn: { instanceUrl: 'http://org.test', accessToken: 'token', version: '65.0' },
    call: () => Promise.reject(new Error('no JSON calls expected')),
  } as unknown as SalesforceClient;
}

describe('parseBulkError', () => {
  it('splits sf__Error into errors with codes, messages and fields', () => {
    expect(
      parseBulkError(
        'REQUIRED_FIELD_MISSING:Required fields are missing: [Subject]:Subject -- DUPLICATE_VALUE:dup:Custompms_Id__c,Id --',
      ),
    ).toEqual([
      {
        statusCode: 'REQUIRED_FIELD_MISSING',
        message: 'Required fields are missing: [Subject]',
        fields: ['Subject'],
      },
      { statusCode: 'DUPLICATE_VALUE', message: 'dup', fields: ['Custompms_Id__c', 'Id'] },
    ]);
    expect(parseBulkError('something broke')).toEqual([
      { statusCode: 'UNKNOWN_ERROR', message: 'something broke', fields: [] },
    ]);
  });
});

describe('Bulk2Ingest.results', () => {
  const csv =
    '"sf__Id","sf__Created","Custompms_Id__c","Description"\n"00T1","true","tsk_1","a, ""quoted""\nline"\n"00T2","false","tsk_2",""\n';

  it('parses quoted fields, commas and newlines row by row', async () => {
    const urls: string[] = [];
    const fetchStub = ((url: string) => {
      urls.push(url);
      return Promise.resolve(new Response(csv, { status: 200 }));
    }) as unknown as typeof fetch;
    const bulk = new Bulk2Ingest(fakeClient(), { fetch: fetchStub });
    const rows = [];
    for await (const row of bulk.results('750X', 'successfulResults')) rows.push(row);
    expect(urls).toEqual(['http://org.test/services/data/v65.0/jobs/ingest/750X/successfulResults']);
    expect(rows).toEqual([
      { sf__Id: '00T1', sf__Created: 'true', Custompms_Id__c: 'tsk_1', Description: 'a, "quoted"\nline' },
      { sf__Id: '00T2', sf__Created: 'false', Custompms_Id__c: 'tsk_2', Description: '' },
    ]);
  });

  it('downloads again when the connection drops half way', async () => {
    let calls = 0;
    const fetchStub = (() => {
      calls++;
      if (calls === 1) {
        const body = new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode(csv.slice(0, 40)));
            controller.error(new TypeError('terminated', { cause: { code: 'UND_ERR_SOCKET' } }));
          },
        });
        return Promise.resolve(new Response(body, { status: 200 }));
      }
      return Promise.resolve(new Response(csv, { status: 200 }));
    }) as unknown as typeof fetch;
    const bulk = new Bulk2Ingest(fakeClient(), { fetch: fetchStub, sleep: () => Promise.resolve() });
    const rows = [];
    for await (const row of bulk.results('750X', 'failedResults')) rows.push(row);
    expect(calls).toBe(2);
    expect(rows.map((row) => row.Custompms_Id__c)).toEqual(['tsk_1', 'tsk_2']);
  });

  it('turns an error answer into Salesforce’s error code', async () => {
    const fetchStub = (() =>
      Promise.resolve(
        new Response(JSON.stringify([{ errorCode: 'INVALIDJOBSTATE', message: 'not finished' }]), {
          status: 409,
        }),
      )) as unknown as typeof fetch;
    const bulk = new Bulk2Ingest(fakeClient(), { fetch: fetchStub });
    const iterate = async () => {
      for await (const row of bulk.results('750X', 'failedResults')) void row;
    };
    await expect(iterate()).rejects.toMatchObject({ errorCode: 'INVALIDJOBSTATE' });
  });
});

/**
 * The Salesforce retry policy (#14): idempotent calls retry on outages and lost answers; a create
 * or an event publish is retried only after a definite refusal, never after a lost answer (a
 * repeat would duplicate a Division, which has no external id).
 */
import { SalesforceApiError } from '../../../proxy/src/salesforce/errors';
import { SalesforceOperations } from '../../../proxy/src/salesforce/operations';
import { SALESFORCE_RETRY_POLICY, withSalesforceRetry } from '../../../proxy/src/salesforce/retry';

const noSleep = { sleep: () => Promise.resolve() };

function failingOnce(errorCode: string) {
  let calls = 0;
  const operation = () => {
    calls++;
    if (calls === 1) return Promise.reject(new SalesforceApiError(errorCode, `injected ${errorCode}`));
    return Promise.resolve('ok');
  };
  return { operation, calls: () => calls };
}

describe('Salesforce retry', () => {
  it.each(['NETWORK_ERROR', 'ERROR_HTTP_502', 'ERROR_HTTP_504', 'SERVER_UNAVAILABLE'])(
    'an idempotent call is retried after %s',
    async (code) => {
      const call = failingOnce(code);
      await expect(withSalesforceRetry(SALESFORCE_RETRY_POLICY, call.operation, noSleep)).resolves.toBe('ok');
      expect(call.calls()).toBe(2);
    },
  );

  it.each(['NETWORK_ERROR', 'ERROR_HTTP_502', 'ERROR_HTTP_504'])(
    'a create is not retried after an ambiguous %s',
    async (code) => {
      const call = failingOnce(code);
      await expect(
        withSalesforceRetry(SALESFORCE_RETRY_POLICY, call.operation, { ...noSleep, idempotent: false }),
      ).rejects.toMatchObject({ errorCode: code });
      expect(call.calls()).toBe(1);
    },
  );

  it.each(['SERVER_UNAVAILABLE', 'UNABLE_TO_LOCK_ROW'])(
    'a create is retried after a definite %s',
    async (code) => {
      const call = failingOnce(code);
      await expect(
        withSalesforceRetry(SALESFORCE_RETRY_POLICY, call.operation, { ...noSleep, idempotent: false }),
      ).resolves.toBe('ok');
      expect(call.calls()).toBe(2);
    },
  );

  it('creates and event publishes go out as non-idempotent calls; updates and upserts as idempotent', async () => {
    const seen: { idempotent: boolean | undefined }[] = [];
    const client = {
      call: (operation: (conn: unknown) => Promise<unknown>, options: { idempotent?: boolean } = {}) => {
        seen.push({ idempotent: options.idempotent });
        const records = { create: () => [], update: () => [], upsert: () => [] };
        return operation({ sobject: () => records });
      },
    };
    const operations = new SalesforceOperations(client as never);
    await operations.create('Division', [{ Name: 'A' }]);
    await operations.publishEvents('Custompms_Change__e', [{ Batch_Id__c: 'b' }]);
    await operations.upsert('Task', 'Custompms_Id__c', [{ Custompms_Id__c: 't' }]);
    expect(seen.map((call) => call.idempotent ?? true)).toEqual([false, false, true]);
  });
});

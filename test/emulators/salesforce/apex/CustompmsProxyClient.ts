/**
 * Mirrors force-app/main/default/classes/CustompmsProxyClient.cls, line for line: the callout
 * client bound to the Named Credential Custompms_Proxy. Apex statics take the running `Apex`
 * context as their first argument; everything else keeps the Apex names and order.
 */
import {
  ApexString,
  stringValueOf,
  CalloutException,
  type Apex,
  type ApexHttpRequest,
  type ApexHttpResponse,
  type SObject,
} from './runtime';
import { CustompmsProxyException } from './CustompmsProxyException';

export class CustompmsProxyClient {
  static readonly NAMED_CREDENTIAL = 'Custompms_Proxy';
  private static readonly BASE_PATH = '/salesforce/v1';
  private static readonly TIMEOUT_MS = 60000;

  constructor(private readonly apex: Apex) {}

  async getChangeBatch(batchId: string): Promise<ChangeBatch> {
    const response = await this.send('GET', '/change-batches/' + this.encode(batchId), null);
    // Heap (emulator accounting): the body, then the parsed batch the caller keeps.
    this.apex.Limits.hold('CustompmsProxyClient.responseBody', response.body);
    const batch = CustompmsProxyClient.parseBatch(response.body);
    this.apex.Limits.hold('CustompmsProxyClient.parsedBatch', batch);
    this.apex.Limits.release('CustompmsProxyClient.responseBody');
    return batch;
  }

  async postBatchResults(batchId: string, results: RecordResult[]): Promise<void> {
    const body = { results: results };
    await this.send(
      'POST',
      '/change-batches/' + this.encode(batchId) + '/results',
      apexJsonSerialize(body, true),
    );
  }

  async postJobFailures(failures: JobFailure[]): Promise<void> {
    await this.send('POST', '/job-failures', apexJsonSerialize({ failures: failures }, true));
  }

  async postTaskDeletions(deletions: TaskDeletion[]): Promise<void> {
    // Not suppressing nulls: the contract sends custompmsId as an explicit null.
    await this.send('POST', '/task-deletions', apexJsonSerialize({ events: deletions }, false));
  }

  private async send(method: string, path: string, body: string | null): Promise<ApexHttpResponse> {
    const request: ApexHttpRequest = {
      endpoint: 'callout:' + CustompmsProxyClient.NAMED_CREDENTIAL + CustompmsProxyClient.BASE_PATH + path,
      method: method,
      timeoutMs: CustompmsProxyClient.TIMEOUT_MS,
      headers: { Accept: 'application/json' },
    };
    if (body != null) {
      request.headers['Content-Type'] = 'application/json';
      request.body = body;
    }
    let response: ApexHttpResponse;
    try {
      response = await this.apex.Http.send(request);
    } catch (e) {
      if (!(e instanceof CalloutException)) throw e;
      throw new CustompmsProxyException(
        method + ' ' + CustompmsProxyClient.BASE_PATH + path + ' failed: ' + e.message,
        e,
      );
    }
    const status = response.statusCode;
    if (status < 200 || status > 299) {
      throw CustompmsProxyException.forStatus(
        status,
        method +
          ' ' +
          CustompmsProxyClient.BASE_PATH +
          path +
          ' answered ' +
          status +
          CustompmsProxyClient.problemDetail(response),
      );
    }
    return response;
  }

  private encode(segment: string): string {
    if (ApexString.isBlank(segment)) {
      throw new CustompmsProxyException('A batch id is required');
    }
    return this.apex.EncodingUtil.urlEncode(segment);
  }

  // The proxy answers errors as problem+json; its title/detail make the exception message useful.
  private static problemDetail(response: ApexHttpResponse): string {
    const body = response.body;
    if (ApexString.isBlank(body)) {
      return '';
    }
    let detail: unknown = null;
    try {
      const parsed: unknown = JSON.parse(body);
      if (isMap(parsed)) {
        const problem = parsed;
        detail = 'detail' in problem ? problem.detail : problem.title;
      }
    } catch {
      // Not JSON (a load balancer's HTML page, say): the raw excerpt below is all there is.
      detail = null;
    }
    return ': ' + (detail == null ? ApexString.abbreviate(body, 200) : stringValueOf(detail));
  }

  static parseBatch(body: string): ChangeBatch {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (e) {
      throw new CustompmsProxyException('Unreadable change batch: ' + (e as Error).message, e);
    }
    if (!isMap(parsed)) {
      throw new CustompmsProxyException('Unreadable change batch: not a JSON object');
    }
    const root = parsed;
    const batch = new ChangeBatch();
    batch.batchId = root.batchId as string | null;
    batch.divisions = CustompmsProxyClient.parseEntries(root.divisions, 'divisions');
    batch.tasks = CustompmsProxyClient.parseEntries(root.tasks, 'tasks');
    return batch;
  }

  private static parseEntries(value: unknown, name: string): BatchEntry[] {
    const entries: BatchEntry[] = [];
    if (value == null) {
      return entries;
    }
    if (!Array.isArray(value)) {
      throw new CustompmsProxyException('Unreadable change batch: ' + name + ' is not a list');
    }
    for (const item of value as unknown[]) {
      entries.push(CustompmsProxyClient.parseEntry(item, name));
    }
    return entries;
  }

  private static parseEntry(item: unknown, listName: string): BatchEntry {
    const entry = isMap(item) ? item : null;
    const key = entry?.key;
    const record = entry?.record;
    if (typeof key !== 'string' || ApexString.isBlank(key) || !isMap(record)) {
      throw new CustompmsProxyException(
        'Unreadable change batch: an entry of ' + listName + ' lacks key or record',
      );
    }
    return new BatchEntry(key, record);
  }
}

/** `instanceof Map<String, Object>` on a deserializeUntyped result. */
function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export class ChangeBatch {
  batchId: string | null = null;
  divisions: BatchEntry[] = [];
  tasks: BatchEntry[] = [];
}

export class BatchEntry {
  key: string;
  record: Record<string, unknown>;

  constructor(key: string, record: Record<string, unknown>) {
    this.key = key;
    this.record = record;
  }
}

export class RecordResult {
  kind: string;
  key: string;
  success: boolean;
  salesforceId: string | null = null;
  created = false;
  // A written Task's SystemModstamp after the write (JSON: ISO-8601 UTC, e.g. 2026-11-28T02:20:42.000Z),
  // so the proxy need not query it; null for a failure and for a Division (then left out of the JSON).
  // Apex Datetime: a Date here, serialised as Apex serialises a Datetime (apexJsonSerialize).
  systemModstamp: Date | null = null;
  errors: RecordError[];

  constructor(kind: string, key: string, errors: RecordError[] | null) {
    this.kind = kind;
    this.key = key;
    this.errors = errors == null ? [] : errors;
    this.success = this.errors.length === 0;
  }

  updated(salesforceId: string | null): RecordResult {
    this.salesforceId = salesforceId;
    this.created = false;
    return this;
  }

  inserted(salesforceId: string | null): RecordResult {
    this.salesforceId = salesforceId;
    this.created = true;
    return this;
  }
}

export class RecordError {
  statusCode: string;
  message: string;
  fields: string[];

  constructor(statusCode: string, message: string, fields: string[] | null) {
    this.statusCode = statusCode;
    this.message = message;
    this.fields = fields == null ? [] : fields;
  }
}

export class JobFailure {
  job: string;
  batchId: string | null;
  // The phase that failed, e.g. FETCH.
  phase: string | null = null;
  // HTTP status of a failed callout (0: no answer); null when the failure was not a callout.
  statusCode: number | null = null;
  message: string;
  asyncApexJobId: string | null = null;

  constructor(job: string, batchId: string | null, message: string | null) {
    this.job = job;
    this.batchId = batchId;
    this.message = message == null ? '' : ApexString.abbreviate(message, 2000);
  }
}

export class TaskDeletion {
  taskId: string | null;
  custompmsId: string | null;
  operation: string | null;
  eventUuid: string | null;

  constructor(event: SObject) {
    this.taskId = (event.Task_Id__c as string | null | undefined) ?? null;
    this.custompmsId = (event.Custompms_Id__c as string | null | undefined) ?? null;
    this.operation = (event.Operation__c as string | null | undefined) ?? null;
    this.eventUuid = (event.EventUuid as string | null | undefined) ?? null;
  }
}

/**
 * Apex `JSON.serialize(value, suppressApexObjectNulls)`: Apex objects serialize their fields in
 * declaration order; with suppression, null fields of Apex objects (not of maps) are left out. A
 * Datetime (a `Date` here) is written in UTC with milliseconds, `"2026-11-28T02:20:42.000Z"`.
 */
export function apexJsonSerialize(value: unknown, suppressApexObjectNulls: boolean): string {
  const convert = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(convert);
    if (v instanceof Date) return v.toISOString();
    if (v !== null && typeof v === 'object') {
      const isApexObject = Object.getPrototypeOf(v) !== Object.prototype;
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) {
        if (typeof item === 'function') continue;
        if (isApexObject && suppressApexObjectNulls && (item === null || item === undefined)) continue;
        out[k] = item === undefined ? null : convert(item);
      }
      return out;
    }
    return v;
  };
  return JSON.stringify(convert(value));
}

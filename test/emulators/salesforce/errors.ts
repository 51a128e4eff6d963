/**
 * The two error shapes Salesforce's REST API uses.
 * - A failed request: HTTP 4xx/5xx with a JSON array `[{ "message", "errorCode", "fields"? }]`
 *   (REST API Developer Guide, "Status Codes and Error Responses"). `fields` appears on record
 *   (DML) errors and is left out of session, routing and query errors, as Salesforce does.
 * - A failed record inside a 200 answer (SaveResult): `{ "statusCode", "message", "fields" }`.
 */

/** One record-level error, as in a SaveResult's `errors`. */
export interface RecordError {
  statusCode: string;
  message: string;
  fields: string[];
}

export function recordError(statusCode: string, message: string, fields: string[] = []): RecordError {
  return { statusCode, message, fields };
}

/** A request that fails as a whole. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly fields?: string[],
    /** Extra headers (e.g. Allow on 405). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The JSON body Salesforce sends. */
  body(): Record<string, unknown>[] {
    return [
      this.fields === undefined
        ? { message: this.message, errorCode: this.errorCode }
        : { message: this.message, errorCode: this.errorCode, fields: this.fields },
    ];
  }

  static fromRecordErrors(status: number, errors: RecordError[]): ApiErrorList {
    return new ApiErrorList(status, errors);
  }
}

/** Several record errors for one request (e.g. a single-record insert failing two rules). */
export class ApiErrorList extends ApiError {
  constructor(
    status: number,
    readonly errors: RecordError[],
  ) {
    super(
      status,
      errors[0]?.statusCode ?? 'UNKNOWN_EXCEPTION',
      errors[0]?.message ?? 'error',
      errors[0]?.fields,
    );
  }

  override body(): Record<string, unknown>[] {
    return this.errors.map((e) => ({ message: e.message, errorCode: e.statusCode, fields: e.fields }));
  }
}

export const notFound = (): ApiError =>
  new ApiError(404, 'NOT_FOUND', 'The requested resource does not exist');

export const invalidSession = (): ApiError =>
  new ApiError(401, 'INVALID_SESSION_ID', 'Session expired or invalid');

/**
 * Salesforce errors, normalised. jsforce throws errors whose `errorCode`/`name` is Salesforce's
 * code (its `HttpApiError` is not exported), `MULTIPLE_API_ERRORS` with the list in `data`, or
 * `ERROR_HTTP_<status>` for non-JSON answers. Everything is mapped onto one class here.
 */
export interface SalesforceErrorDetail {
  errorCode: string;
  message: string;
  fields?: string[];
}

export class SalesforceApiError extends Error {
  readonly code: string;
  constructor(
    readonly errorCode: string,
    message: string,
    readonly details: SalesforceErrorDetail[] = [],
  ) {
    super(message);
    this.name = 'SalesforceApiError';
    this.code = errorCode;
  }
}

export class SalesforceAuthError extends Error {
  readonly code = 'SALESFORCE_AUTH_FAILED';
  constructor(message: string) {
    super(message);
    this.name = 'SalesforceAuthError';
  }
}

export class SalesforceNotConfiguredError extends Error {
  readonly code = 'SALESFORCE_NOT_CONFIGURED';
  constructor(message = 'Salesforce access is not configured (SALESFORCE_AUTH=none)') {
    super(message);
    this.name = 'SalesforceNotConfiguredError';
  }
}

interface JsforceErrorShape {
  errorCode?: unknown;
  name?: unknown;
  message?: unknown;
  data?: unknown;
}

function detailsFrom(data: unknown): SalesforceErrorDetail[] {
  const list = Array.isArray(data) ? data : data && typeof data === 'object' ? [data] : [];
  return list
    .filter((item): item is Record<string, unknown> => item !== null && typeof item === 'object')
    .map((item) => ({
      errorCode: typeof item.errorCode === 'string' ? item.errorCode : 'UNKNOWN_ERROR',
      message: typeof item.message === 'string' ? item.message : '',
      ...(Array.isArray(item.fields) ? { fields: item.fields.map(String) } : {}),
    }));
}

/** Turns whatever jsforce (or fetch) threw into a SalesforceApiError with Salesforce's code. */
export function normaliseSalesforceError(error: unknown): SalesforceApiError {
  if (error instanceof SalesforceApiError) return error;
  const shape = (error ?? {}) as JsforceErrorShape;
  const details = detailsFrom(shape.data);
  let code =
    typeof shape.errorCode === 'string'
      ? shape.errorCode
      : typeof shape.name === 'string' && /^[A-Z0-9_]+$/.test(shape.name)
        ? shape.name
        : 'UNKNOWN_ERROR';
  // Several errors at once: the first one's code decides how the call is classified.
  if (code === 'MULTIPLE_API_ERRORS' && details[0]) code = details[0].errorCode;
  // Socket-level failures (reset, refused, timeout) are transient like a 503.
  const cause = (error as { cause?: { code?: unknown } } | undefined)?.cause;
  if (code === 'UNKNOWN_ERROR' && error instanceof TypeError && cause && typeof cause.code === 'string') {
    code = 'NETWORK_ERROR';
  }
  const message = typeof shape.message === 'string' ? shape.message : String(error);
  return new SalesforceApiError(code, message, details);
}

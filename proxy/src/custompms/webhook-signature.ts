/**
 * Custompms webhook signatures: `Custompms-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]`
 * where each `v1` is HMAC-SHA256(secret, "<t>.<raw body>"). Modelled on stripe-node's
 * `Webhooks.ts` and svix's `webhook.ts`: verify the raw bytes (a re-serialised body is not the
 * signed one), compare in constant time, accept any `v1` for any configured secret (rotation),
 * refuse timestamps outside a tolerance in both directions (replays and far-future forgeries),
 * and only then parse. The test signer lives here too, so both sides share one definition.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { type WebhookEvent, webhookEventSchema } from './types';

export const SIGNATURE_HEADER = 'Custompms-Signature';
export const SIGNATURE_SCHEME = 'v1';
export const DEFAULT_TOLERANCE_SECONDS = 300;
export const DEFAULT_MAX_BODY_BYTES = 256 * 1024;

/** A refused delivery. `status` is the HTTP answer the receiver should give. */
export abstract class WebhookVerificationError extends Error {
  abstract readonly code: string;
  abstract readonly status: number;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No secret is configured: nothing can be verified, so nothing is accepted. */
export class WebhookNoSecretsError extends WebhookVerificationError {
  readonly code = 'WEBHOOK_NO_SECRETS';
  readonly status = 503;
}

/** The body reached the verifier already parsed (a JSON parser ran first): it cannot be verified. */
export class WebhookBodyNotRawError extends WebhookVerificationError {
  readonly code = 'WEBHOOK_BODY_NOT_RAW';
  readonly status = 500;
}

/** The body is larger than the receiver accepts. */
export class WebhookBodyTooLargeError extends WebhookVerificationError {
  readonly code = 'WEBHOOK_BODY_TOO_LARGE';
  readonly status = 413;
}

/** The `Custompms-Signature` header is absent. */
export class WebhookSignatureMissingError extends WebhookVerificationError {
  readonly code = 'WEBHOOK_SIGNATURE_MISSING';
  readonly status = 401;
}

/** The header is present but unreadable (no timestamp, no `v1`, bad hex). */
export class WebhookSignatureMalformedError extends WebhookVerificationError {
  readonly code = 'WEBHOOK_SIGNATURE_MALFORMED';
  readonly status = 400;
}

/** No `v1` matches any configured secret. */
export class WebhookSignatureMismatchError extends WebhookVerificationError {
  readonly code = 'WEBHOOK_SIGNATURE_MISMATCH';
  readonly status = 401;
}

/** The signed timestamp is older than the tolerance (a replay, or a very late retry). */
export class WebhookTimestampStaleError extends WebhookVerificationError {
  readonly code = 'WEBHOOK_TIMESTAMP_STALE';
  readonly status = 401;
}

/** The signed timestamp is further in the future than the tolerance. */
export class WebhookTimestampFutureError extends WebhookVerificationError {
  readonly code = 'WEBHOOK_TIMESTAMP_FUTURE';
  readonly status = 401;
}

/** Authentic, but not a JSON webhook event of the contract. */
export class WebhookPayloadInvalidError extends WebhookVerificationError {
  readonly code = 'WEBHOOK_PAYLOAD_INVALID';
  readonly status = 400;
}

export const WEBHOOK_ERROR_CODES = [
  'WEBHOOK_NO_SECRETS',
  'WEBHOOK_BODY_NOT_RAW',
  'WEBHOOK_BODY_TOO_LARGE',
  'WEBHOOK_SIGNATURE_MISSING',
  'WEBHOOK_SIGNATURE_MALFORMED',
  'WEBHOOK_SIGNATURE_MISMATCH',
  'WEBHOOK_TIMESTAMP_STALE',
  'WEBHOOK_TIMESTAMP_FUTURE',
  'WEBHOOK_PAYLOAD_INVALID',
] as const;

export interface VerifyWebhookOptions {
  /** The body exactly as received: a Buffer (or the identical string). Never a parsed object. */
  rawBody: unknown;
  /** The `Custompms-Signature` header value. */
  signatureHeader: string | string[] | undefined;
  /** Every secret currently accepted (new and old while rotating). */
  secrets: readonly string[];
  /** Clock in epoch milliseconds. */
  now?: () => number;
  toleranceSeconds?: number;
  maxBodyBytes?: number;
}

export interface ParsedSignatureHeader {
  timestamp: number;
  signatures: Buffer[];
}

/** Hex HMAC-SHA256 of "<timestamp>.<body>". */
export function computeSignature(secret: string, timestamp: number, rawBody: Buffer | string): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
}

/**
 * Signs a body as Custompms does: one `v1` per secret. This is the test signer, and the reference
 * server's signer.
 */
export function signWebhookPayload(
  rawBody: Buffer | string,
  secrets: string | readonly string[],
  options: { timestamp?: number; now?: () => number } = {},
): string {
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  if (list.length === 0) throw new RangeError('signWebhookPayload needs at least one secret');
  const timestamp = options.timestamp ?? Math.floor((options.now ?? Date.now)() / 1000);
  return [
    `t=${timestamp}`,
    ...list.map((secret) => `${SIGNATURE_SCHEME}=${computeSignature(secret, timestamp, rawBody)}`),
  ].join(',');
}

/** Reads `t=…,v1=…`; unknown schemes (`v0=`) are ignored so a future scheme can be added alongside. */
export function parseSignatureHeader(header: string): ParsedSignatureHeader {
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(',')) {
    const separator = part.indexOf('=');
    if (separator <= 0)
      throw new WebhookSignatureMalformedError(
        `Signature header element "${truncate(part)}" is not key=value`,
      );
    const key = part.slice(0, separator).trim();
    const value = part.slice(separator + 1).trim();
    if (key === 't') {
      if (timestamp !== undefined)
        throw new WebhookSignatureMalformedError('Signature header has more than one timestamp');
      if (!/^\d{1,12}$/.test(value))
        throw new WebhookSignatureMalformedError('Signature timestamp is not unix seconds');
      timestamp = Number(value);
    } else if (key === SIGNATURE_SCHEME) {
      if (!/^[0-9a-fA-F]{64}$/.test(value))
        throw new WebhookSignatureMalformedError('A v1 signature is not 64 hex characters');
      signatures.push(Buffer.from(value, 'hex'));
    }
  }
  if (timestamp === undefined)
    throw new WebhookSignatureMalformedError('Signature header has no timestamp (t=)');
  if (signatures.length === 0)
    throw new WebhookSignatureMalformedError('Signature header has no v1 signature');
  return { timestamp, signatures };
}

/**
 * Verifies a delivery and returns the event. Order: refuse what cannot be checked (no secret, a
 * parsed body, an oversized body), then the header, then the signature, then the timestamp
 * (so "stale" is only ever said of an authentic message), and parse the JSON last: unauthenticated
 * bytes are never parsed.
 */
export function verifyWebhook(options: VerifyWebhookOptions): WebhookEvent {
  const secrets = options.secrets.filter((secret) => secret.length > 0);
  if (secrets.length === 0)
    throw new WebhookNoSecretsError(
      'No Custompms webhook secret is configured; refusing to accept unverifiable deliveries',
    );

  const raw = toRawBuffer(options.rawBody);
  const maxBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  if (raw.length > maxBytes)
    throw new WebhookBodyTooLargeError(`Body of ${raw.length} bytes exceeds ${maxBytes} bytes`);

  const header = Array.isArray(options.signatureHeader)
    ? options.signatureHeader.join(',')
    : options.signatureHeader;
  if (header === undefined || header.trim() === '')
    throw new WebhookSignatureMissingError(`Missing ${SIGNATURE_HEADER} header`);
  const parsed = parseSignatureHeader(header);

  let matched = false;
  for (const secret of secrets) {
    const expected = Buffer.from(computeSignature(secret, parsed.timestamp, raw), 'hex');
    for (const candidate of parsed.signatures) {
      // Lengths are equal (64 hex each, checked while parsing), as timingSafeEqual requires.
      if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
    }
  }
  if (!matched) throw new WebhookSignatureMismatchError('No signature matches any configured secret');

  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const nowSeconds = Math.floor((options.now ?? Date.now)() / 1000);
  const age = nowSeconds - parsed.timestamp;
  if (age > tolerance)
    throw new WebhookTimestampStaleError(
      `Signature timestamp is ${age} s old; the tolerance is ${tolerance} s`,
    );
  if (-age > tolerance)
    throw new WebhookTimestampFutureError(
      `Signature timestamp is ${-age} s in the future; the tolerance is ${tolerance} s`,
    );

  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new WebhookPayloadInvalidError('Body is not JSON', { cause: error });
  }
  const event = webhookEventSchema.safeParse(json);
  if (!event.success) {
    const issues = event.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    throw new WebhookPayloadInvalidError(`Body is not a Custompms webhook event: ${issues}`);
  }
  return event.data;
}

function toRawBuffer(body: unknown): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body === undefined || body === null) return Buffer.alloc(0);
  throw new WebhookBodyNotRawError(
    'The webhook body was parsed before verification; mount the raw body parser on the webhook route only',
  );
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

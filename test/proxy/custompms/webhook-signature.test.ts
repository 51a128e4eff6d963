import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import {
  computeSignature,
  parseSignatureHeader,
  signWebhookPayload,
  verifyWebhook,
  WEBHOOK_ERROR_CODES,
  WebhookBodyNotRawError,
  WebhookBodyTooLargeError,
  WebhookNoSecretsError,
  WebhookPayloadInvalidError,
  WebhookSignatureMalformedError,
  WebhookSignatureMismatchError,
  WebhookSignatureMissingError,
  WebhookTimestampFutureError,
  WebhookTimestampStaleError,
  WebhookVerificationError,
} from '../../../proxy/src/custompms/webhook-signature';
import * as signatureModule from '../../../proxy/src/custompms/webhook-signature';

const NOW = Date.parse('2026-03-01T12:00:00Z');
const T = NOW / 1000;
const SECRET = 'whsec_current_0123456789';
const OLD_SECRET = 'whsec_previous_9876543210';
const event = {
  id: 'evt_1',
  type: 'task.updated',
  occurred_at: '2026-03-01T11:59:58.000Z',
  data: { id: 'tsk_1', version: 7 },
};
const body = Buffer.from(JSON.stringify(event));

function verify(overrides: Partial<Parameters<typeof verifyWebhook>[0]> = {}) {
  return verifyWebhook({
    rawBody: body,
    signatureHeader: signWebhookPayload(body, SECRET, { timestamp: T }),
    secrets: [SECRET],
    now: () => NOW,
    ...overrides,
  });
}

function failure(run: () => unknown): WebhookVerificationError {
  try {
    run();
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error;
    throw error;
  }
  throw new Error('expected verification to fail');
}

describe('signWebhookPayload', () => {
  it('is HMAC-SHA256 over "<t>.<raw body>" in hex, one v1 per secret', () => {
    const header = signWebhookPayload(body, [SECRET, OLD_SECRET], { timestamp: T });
    const expected = (secret: string) =>
      createHmac('sha256', secret).update(`${T}.${body.toString()}`).digest('hex');
    expect(header).toBe(`t=${T},v1=${expected(SECRET)},v1=${expected(OLD_SECRET)}`);
    expect(computeSignature(SECRET, T, body)).toBe(expected(SECRET));
  });
});

describe('verifyWebhook', () => {
  it('accepts a good delivery and returns the event', () => {
    expect(verify()).toEqual(event);
  });

  it('accepts a string body identical to the raw bytes', () => {
    expect(verify({ rawBody: body.toString('utf8') })).toEqual(event);
  });

  it('accepts any listed secret while rotating, either side', () => {
    // Sender still on the old secret, receiver already knows both.
    expect(
      verify({
        signatureHeader: signWebhookPayload(body, OLD_SECRET, { timestamp: T }),
        secrets: [SECRET, OLD_SECRET],
      }),
    ).toEqual(event);
    // Sender signs with both, receiver knows only the new one.
    expect(
      verify({ signatureHeader: signWebhookPayload(body, [OLD_SECRET, SECRET], { timestamp: T }) }),
    ).toEqual(event);
  });

  it('ignores unknown schemes next to v1', () => {
    const header = `t=${T},v0=deadbeef,v1=${computeSignature(SECRET, T, body)}`;
    expect(verify({ signatureHeader: header })).toEqual(event);
  });

  it('tolerates 300 s either way, and no more', () => {
    const at = (offset: number) => signWebhookPayload(body, SECRET, { timestamp: T + offset });
    expect(verify({ signatureHeader: at(-300) })).toEqual(event);
    expect(verify({ signatureHeader: at(300) })).toEqual(event);
    expect(failure(() => verify({ signatureHeader: at(-301) }))).toBeInstanceOf(WebhookTimestampStaleError);
    expect(failure(() => verify({ signatureHeader: at(301) }))).toBeInstanceOf(WebhookTimestampFutureError);
    expect(verify({ signatureHeader: at(-500), toleranceSeconds: 600 })).toEqual(event);
  });

  it('refuses a tampered body, a wrong secret, or a signature moved to another timestamp', () => {
    const tampered = Buffer.from(body.toString().replace('"version":7', '"version":8'));
    expect(failure(() => verify({ rawBody: tampered }))).toBeInstanceOf(WebhookSignatureMismatchError);
    expect(failure(() => verify({ secrets: ['whsec_someone_else'] }))).toBeInstanceOf(
      WebhookSignatureMismatchError,
    );
    const signature = computeSignature(SECRET, T, body);
    expect(failure(() => verify({ signatureHeader: `t=${T + 1},v1=${signature}` }))).toBeInstanceOf(
      WebhookSignatureMismatchError,
    );
  });

  it('refuses a re-serialised (parsed) body', () => {
    const error = failure(() => verify({ rawBody: JSON.parse(body.toString()) as unknown }));
    expect(error).toBeInstanceOf(WebhookBodyNotRawError);
    expect(error.message).toMatch(/raw body parser/);
  });

  it.each([
    ['missing', undefined, WebhookSignatureMissingError],
    ['empty', '', WebhookSignatureMissingError],
    ['no timestamp', `v1=${'a'.repeat(64)}`, WebhookSignatureMalformedError],
    ['no v1', `t=${T}`, WebhookSignatureMalformedError],
    ['two timestamps', `t=${T},t=${T},v1=${'a'.repeat(64)}`, WebhookSignatureMalformedError],
    ['timestamp not a number', `t=soon,v1=${'a'.repeat(64)}`, WebhookSignatureMalformedError],
    ['short hex', `t=${T},v1=abc`, WebhookSignatureMalformedError],
    ['not key=value', `t=${T},garbage`, WebhookSignatureMalformedError],
  ])('refuses a header that is %s', (_name, header, expected) => {
    expect(failure(() => verify({ signatureHeader: header }))).toBeInstanceOf(expected);
  });

  it('refuses when no secret is configured, even a correctly signed delivery', () => {
    expect(failure(() => verify({ secrets: [] }))).toBeInstanceOf(WebhookNoSecretsError);
    expect(failure(() => verify({ secrets: [''] }))).toBeInstanceOf(WebhookNoSecretsError);
  });

  it('refuses an oversized body before computing anything', () => {
    const error = failure(() => verify({ maxBodyBytes: body.length - 1 }));
    expect(error).toBeInstanceOf(WebhookBodyTooLargeError);
    expect(error.status).toBe(413);
  });

  it('refuses authentic bodies that are not JSON events', () => {
    for (const text of [
      'not json',
      '[]',
      '{"id":"evt_2"}',
      JSON.stringify({ ...event, type: 'task.archived' }),
    ]) {
      const raw = Buffer.from(text);
      const error = failure(() =>
        verify({ rawBody: raw, signatureHeader: signWebhookPayload(raw, SECRET, { timestamp: T }) }),
      );
      expect([text, error.constructor]).toEqual([text, WebhookPayloadInvalidError]);
      expect(error.status).toBe(400);
    }
  });

  it('any change to a signed body is detected (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 200 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (bytes, at, flip) => {
          const raw = Buffer.from(bytes);
          const header = signWebhookPayload(raw, SECRET, { timestamp: T });
          const changed = Buffer.from(raw);
          const index = at % changed.length;
          changed[index] = changed[index]! ^ flip;
          const error = failure(() =>
            verifyWebhook({ rawBody: changed, signatureHeader: header, secrets: [SECRET], now: () => NOW }),
          );
          return error instanceof WebhookSignatureMismatchError;
        },
      ),
    );
  });

  it('every error class has a distinct code and a 4xx/5xx status', () => {
    const classes = (Object.values(signatureModule) as unknown[]).filter(
      (value): value is new (message: string) => WebhookVerificationError =>
        typeof value === 'function' && value.prototype instanceof WebhookVerificationError,
    );
    const instances = classes.map((Class) => new Class('x'));
    expect(instances.map((instance) => instance.code).sort()).toEqual([...WEBHOOK_ERROR_CODES].sort());
    for (const instance of instances) expect(instance.status).toBeGreaterThanOrEqual(400);
  });

  it('parses the header into a timestamp and signature bytes', () => {
    const parsed = parseSignatureHeader(` t=${T} , v1=${'0f'.repeat(32)}`);
    expect(parsed.timestamp).toBe(T);
    expect(parsed.signatures).toEqual([Buffer.alloc(32, 0x0f)]);
  });
});

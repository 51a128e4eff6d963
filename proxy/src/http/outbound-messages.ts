/**
 * `POST /salesforce/v1/outbound-messages/:token`: Salesforce outbound messages (SOAP).
 * Order matters: authenticate (path token, constant time), parse safely, check the org, store
 * every notification in one transaction (de-duplicated on Notification/Id), and only then
 * answer `Ack true`. Any other answer makes Salesforce retry, which is what we want whenever
 * the message is not durably stored.
 */
import express, { Router, type ErrorRequestHandler, type RequestHandler, type Response } from 'express';
import type pg from 'pg';
import { insertInboxMessages } from '../store/inbox';
import {
  ACK_TRUE,
  OutboundMessageError,
  parseOutboundMessage,
  soapFault,
} from '../salesforce/outbound-message';
import { KEY_LOCAL, rateLimits, SALESFORCE_RATE_LIMITS, type RateLimitSettings } from './rate-limit';
import { acceptedKeys, keyFingerprint, matchingSecret, secretsEqual } from './secrets';

export interface OutboundMessageRouteOptions {
  pool: pg.Pool;
  /**
   * Secret path tokens (several during a rotation: the endpoint moves to the new one while
   * messages queued for the old one still arrive); none refuses every message (503, so
   * Salesforce keeps retrying).
   */
  token: string | readonly string[] | undefined;
  /** The org allowed to send (15 or 18 characters); undefined refuses every message. */
  organizationId: string | undefined;
  rateLimits?: RateLimitSettings;
}

/**
 * How far ahead of the proxy's clock a notification's timestamps may be. Salesforce stamps
 * `SystemModstamp`/`LastModifiedDate` itself, so a value far in the future is a clock fault or a
 * forgery (someone holding the endpoint token); stored as sent, it would become the record's
 * version and every genuine later edit would look older and be dropped: the record would freeze
 * (and `latest` would let it win every conflict). Such stamps are clamped to receive time plus
 * this tolerance, and the value sent is kept beside it for the log.
 */
export const FUTURE_STAMP_TOLERANCE_MS = 5 * 60_000;
const STAMP_FIELDS = ['SystemModstamp', 'LastModifiedDate'] as const;

/** The sObject with future timestamps clamped; `clamped` names the fields changed. */
export function clampFutureStamps<T extends Record<string, unknown>>(
  sObject: T,
  receivedAt: number,
): { sObject: T; clamped: string[] } {
  const limit = receivedAt + FUTURE_STAMP_TOLERANCE_MS;
  const result: Record<string, unknown> = { ...sObject };
  const clamped: string[] = [];
  for (const field of STAMP_FIELDS) {
    const value = sObject[field];
    if (typeof value !== 'string') continue;
    const time = Date.parse(value);
    if (Number.isFinite(time) && time > limit) {
      result[field] = new Date(limit).toISOString();
      result[`${field}AsSent`] = value;
      clamped.push(field);
    }
  }
  return { sObject: result as T, clamped };
}

/**
 * The largest envelope Salesforce can send, in bytes: 100 notifications, each with a
 * 32,000-character Description and the other text fields at their maximum (Subject 255 and the
 * sync's short fields, counted as 4 × 255 more), every character at its worst: `&amp;` is 5
 * bytes, and no character takes more in UTF-8 (3 bytes in the BMP, 4 for a pair of UTF-16
 * units). Plus 4 KB of tags and ids per notification and 16 KB of envelope: about 17 MB.
 */
export const MAX_OUTBOUND_BODY_BYTES = 100 * ((32_000 + 255 + 4 * 255) * 5 + 4_096) + 16_384;
const MAX_BODY = MAX_OUTBOUND_BODY_BYTES;

function sendSoap(res: Response, status: number, xml: string): void {
  res.status(status).type('text/xml; charset=utf-8').send(xml);
}

/** Salesforce sends 18-character ids; admins often paste the 15-character form. */
export function sameOrganization(sent: string, configured: string): boolean {
  if (sent.length === configured.length) return secretsEqual(sent, configured);
  return sent.slice(0, 15) === configured.slice(0, 15);
}

export function outboundMessageRouter(options: OutboundMessageRouteOptions): Router {
  const tokens = acceptedKeys(options.token);
  // Authenticate before reading a byte of the body.
  const authenticate: RequestHandler = (req, res, next) => {
    if (tokens.length === 0 || options.organizationId === undefined) {
      sendSoap(res, 503, soapFault('Server', 'outbound messages are not configured on this proxy'));
      return;
    }
    const given = String(req.params.token ?? '');
    if (matchingSecret(given, tokens) === -1) {
      sendSoap(res, 401, soapFault('Client', 'unknown endpoint token'));
      return;
    }
    res.locals[KEY_LOCAL] = keyFingerprint(given);
    next();
  };
  const limits = rateLimits('outbound-messages', options.rateLimits ?? SALESFORCE_RATE_LIMITS);

  const receive: RequestHandler = async (req, res) => {
    const body: unknown = req.body;
    if (typeof body !== 'string' || body.length === 0) {
      sendSoap(res, 400, soapFault('Client', 'expected a SOAP envelope (text/xml)'));
      return;
    }
    let message;
    try {
      message = parseOutboundMessage(body);
    } catch (error) {
      if (!(error instanceof OutboundMessageError)) throw error;
      req.log.warn({ reason: error.message }, 'malformed outbound message refused');
      sendSoap(res, 400, soapFault('Client', error.message));
      return;
    }
    if (!sameOrganization(message.organizationId, options.organizationId!)) {
      req.log.warn({ organizationId: message.organizationId }, 'outbound message from another org refused');
      sendSoap(res, 403, soapFault('Client', 'OrganizationId does not match this proxy'));
      return;
    }
    const receivedAt = Date.now();
    const notifications = message.notifications.map((notification) => {
      const { sObject, clamped } = clampFutureStamps(notification.sObject, receivedAt);
      if (clamped.length > 0) {
        req.log.warn(
          { code: 'FUTURE_TIMESTAMP_CLAMPED', notificationId: notification.id, fields: clamped },
          'outbound message stamped in the future: clamped to receive time plus tolerance',
        );
      }
      return { ...notification, sObject };
    });
    try {
      const stored = await insertInboxMessages(
        options.pool,
        notifications.map((notification) => ({
          source: 'salesforce.outbound' as const,
          dedupeKey: notification.id,
          recordKey: `sf:${notification.sObject.Id ?? notification.id}`,
          payload: {
            notificationId: notification.id,
            actionId: message.actionId,
            organizationId: message.organizationId,
            sObjectType: notification.sObjectType,
            sObject: notification.sObject,
          },
        })),
      );
      req.log.info(
        { stored: stored.insertedIds.length, duplicates: stored.duplicates },
        'outbound message stored',
      );
    } catch (error) {
      req.log.error({ err: error }, 'outbound message not stored');
      sendSoap(res, 500, soapFault('Server', 'temporarily unable to store the message'));
      return;
    }
    sendSoap(res, 200, ACK_TRUE);
  };

  // Body-parser errors (too large, bad encoding) still answer in SOAP, never JSON.
  const bodyErrors: ErrorRequestHandler = (error: { status?: number; type?: string }, _req, res, next) => {
    if (error.status !== undefined && error.status < 500) {
      const reason = error.type === 'entity.too.large' ? 'message too large' : 'unreadable body';
      sendSoap(res, error.status, soapFault('Client', reason));
      return;
    }
    next(error);
  };

  const router = Router();
  router.post(
    '/salesforce/v1/outbound-messages/:token',
    ...limits.beforeAuth,
    authenticate,
    limits.afterAuth,
    express.text({ type: () => true, limit: MAX_BODY }),
    receive,
    bodyErrors,
  );
  return router;
}

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
import { secretsEqual } from './secrets';

export interface OutboundMessageRouteOptions {
  pool: pg.Pool;
  /** Secret path token; undefined refuses every message (503, so Salesforce keeps retrying). */
  token: string | undefined;
  /** The org allowed to send (15 or 18 characters); undefined refuses every message. */
  organizationId: string | undefined;
}

// 100 notifications × a 32,000-character Description, plus the envelope, fit in 5 MB.
const MAX_BODY = '5mb';

function sendSoap(res: Response, status: number, xml: string): void {
  res.status(status).type('text/xml; charset=utf-8').send(xml);
}

/** Salesforce sends 18-character ids; admins often paste the 15-character form. */
export function sameOrganization(sent: string, configured: string): boolean {
  if (sent.length === configured.length) return secretsEqual(sent, configured);
  return sent.slice(0, 15) === configured.slice(0, 15);
}

export function outboundMessageRouter(options: OutboundMessageRouteOptions): Router {
  // Authenticate before reading a byte of the body.
  const authenticate: RequestHandler = (req, res, next) => {
    if (options.token === undefined || options.organizationId === undefined) {
      sendSoap(res, 503, soapFault('Server', 'outbound messages are not configured on this proxy'));
      return;
    }
    if (!secretsEqual(String(req.params.token ?? ''), options.token)) {
      sendSoap(res, 401, soapFault('Client', 'unknown endpoint token'));
      return;
    }
    next();
  };

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
    try {
      const stored = await insertInboxMessages(
        options.pool,
        message.notifications.map((notification) => ({
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
    authenticate,
    express.text({ type: () => true, limit: MAX_BODY }),
    receive,
    bodyErrors,
  );
  return router;
}

/**
 * `POST /custompms/v1/webhooks`: Custompms tells us a record changed. The route reads the raw
 * body (its own parser, on this route only), verifies the signature, stores the event in the
 * durable inbox de-duplicated on the event id (deliveries arriving together share one statement:
 * `GroupedInboxWriter`), and answers 202 only after the insert committed.
 * Anything refused is answered with problem+json and leaves no row behind; a store failure
 * answers 503 so Custompms retries.
 */
import express, { type ErrorRequestHandler, type Request, Router } from 'express';
import type pg from 'pg';
import type { Logger } from 'pino';
import {
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_TOLERANCE_SECONDS,
  SIGNATURE_HEADER,
  verifyWebhook,
  WebhookBodyTooLargeError,
  WebhookVerificationError,
} from '../custompms/webhook-signature';
import { GroupedInboxWriter } from '../store/inbox';
import { sendProblem } from './problem';

export const CUSTOMPMS_WEBHOOK_PATH = '/custompms/v1/webhooks';

/** Problem `type` URIs of this route, one per refusal code. */
const PROBLEM_BASE = 'urn:custompms-sync:problem:';

export interface CustompmsWebhookRouterOptions {
  pool: pg.Pool;
  /** Accepted secrets (`config.custompms.webhookSecrets`); empty → every delivery is refused. */
  secrets: readonly string[];
  logger?: Logger;
  /** Clock in epoch milliseconds (tests move it). */
  now?: () => number;
  /** Largest body accepted, in bytes. Default 256 KiB. */
  maxBodyBytes?: number;
  toleranceSeconds?: number;
}

/** The webhook receiver; mount it on the app (`createApp({ routers: [...] })`). */
export function custompmsWebhookRouter(options: CustompmsWebhookRouterOptions): Router {
  const router = Router();
  // A burst's webhooks are stored a group per statement (group commit), each answered once its row is durable.
  const inbox = new GroupedInboxWriter(options.pool);
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const secrets = options.secrets.filter((secret) => secret.trim() !== '');
  const logFor = (req: Request): Pick<Logger, 'warn' | 'error' | 'info'> | undefined => {
    // req.log exists when the app installed pino-http; a bare router falls back to the option.
    const requestLogger: Logger | undefined = req.log;
    return requestLogger ?? options.logger;
  };

  router.post(
    CUSTOMPMS_WEBHOOK_PATH,
    // Raw bytes whatever the content type: the signature covers the bytes, not a parse of them.
    express.raw({ type: () => true, limit: maxBodyBytes }),
    async (req, res) => {
      let event;
      try {
        event = verifyWebhook({
          rawBody: req.body,
          signatureHeader: req.headers[SIGNATURE_HEADER.toLowerCase()],
          secrets,
          now: options.now,
          toleranceSeconds: options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS,
          maxBodyBytes,
        });
      } catch (error) {
        if (!(error instanceof WebhookVerificationError)) throw error;
        refuse(res, error, logFor(req));
        return;
      }

      try {
        const { duplicate } = await inbox.insert({
          source: 'custompms.webhook',
          dedupeKey: event.id,
          payload: event,
        });
        logFor(req)?.info(
          { eventId: event.id, eventType: event.type, duplicate },
          'custompms webhook stored',
        );
        res.status(202).json({ status: 'accepted', id: event.id, duplicate });
      } catch (error) {
        logFor(req)?.error({ err: error, eventId: event.id }, 'custompms webhook could not be stored');
        res.setHeader('Retry-After', '30');
        sendProblem(res, {
          type: `${PROBLEM_BASE}store-unavailable`,
          title: 'Service Unavailable',
          status: 503,
          detail: 'The event could not be stored; retry later',
          code: 'WEBHOOK_STORE_UNAVAILABLE',
        });
      }
    },
  );

  // The raw parser's own refusals (too large, bad encoding) as problem+json with our codes.
  const parserErrors: ErrorRequestHandler = (error: unknown, req, res, next) => {
    const parserError = error as { type?: string; status?: number; expose?: boolean };
    if (parserError.type === 'entity.too.large') {
      refuse(res, new WebhookBodyTooLargeError(`Body exceeds ${maxBodyBytes} bytes`), logFor(req));
      return;
    }
    if (typeof parserError.status === 'number' && parserError.status >= 400 && parserError.status < 500) {
      sendProblem(res, {
        type: `${PROBLEM_BASE}body-unreadable`,
        title: 'Bad Request',
        status: parserError.status,
        detail: (error as Error).message,
        code: 'WEBHOOK_BODY_UNREADABLE',
      });
      return;
    }
    next(error);
  };
  router.use(CUSTOMPMS_WEBHOOK_PATH, parserErrors);
  return router;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  413: 'Payload Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

function refuse(
  res: express.Response,
  error: WebhookVerificationError,
  logger: Pick<Logger, 'warn' | 'error'> | undefined,
): void {
  // Our own misconfiguration is an error; a sender's bad delivery is a warning.
  if (error.status >= 500) logger?.error({ code: error.code }, `custompms webhook refused: ${error.message}`);
  else logger?.warn({ code: error.code }, `custompms webhook refused: ${error.message}`);
  if (error.status === 503) res.setHeader('Retry-After', '300');
  sendProblem(res, {
    type: `${PROBLEM_BASE}${error.code.toLowerCase().replaceAll('_', '-')}`,
    title: TITLES[error.status] ?? 'Webhook Refused',
    status: error.status,
    detail: error.message,
    code: error.code,
  });
}

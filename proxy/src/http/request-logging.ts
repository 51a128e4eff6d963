/**
 * One child logger per request carrying `reqId`, so every line logged while serving a request
 * names it. The id comes from a sane incoming `X-Request-Id` (Heroku's router sets one) or is new.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pinoHttp } from 'pino-http';
import type { Logger } from 'pino';
import { scrubUrl } from '../logger';

const SAFE_REQUEST_ID = /^[A-Za-z0-9._-]{1,100}$/;

export function requestLogging(logger: Logger) {
  return pinoHttp({
    logger,
    // req.log lines carry just `reqId`; the completion line carries the full request and response.
    quietReqLogger: true,
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const incoming = req.headers['x-request-id'];
      const id = typeof incoming === 'string' && SAFE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    serializers: {
      req(req: { id: unknown; method: string; url: string; remoteAddress?: string }) {
        return { id: req.id, method: req.method, url: scrubUrl(req.url), remoteAddress: req.remoteAddress };
      },
      res(res: { statusCode: number }) {
        return { statusCode: res.statusCode };
      },
    },
    customLogLevel(_req, res, error) {
      if (error || res.statusCode >= 500) return 'error';
      if (res.statusCode >= 400) return 'warn';
      return 'info';
    },
  });
}

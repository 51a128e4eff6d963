/**
 * Errors as `application/problem+json` (RFC 9457). Routes throw `HttpProblem`; the error
 * middleware turns anything into a problem document and never leaks internals in a 5xx.
 */
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    readonly type = 'about:blank',
  ) {
    super(detail ?? title);
    this.name = 'HttpProblem';
  }
}

export function sendProblem(res: Response, problem: ProblemDocument): void {
  res.status(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

export const notFound: RequestHandler = (req, res) => {
  sendProblem(res, {
    type: 'about:blank',
    title: 'Not Found',
    status: 404,
    detail: `No route for ${req.method} ${req.path}`,
  });
};

interface BodyParserError {
  status?: number;
  statusCode?: number;
  type?: string;
  expose?: boolean;
}

/** Maps thrown errors (ours and body-parser's) to problem documents. */
export function errorHandler(): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    if (error instanceof HttpProblem) {
      sendProblem(res, {
        type: error.type,
        title: error.title,
        status: error.status,
        ...(error.detail === undefined ? {} : { detail: error.detail }),
        ...error.extensions,
      });
      return;
    }
    const parserError = error as BodyParserError;
    const status = parserError.status ?? parserError.statusCode;
    if (status !== undefined && status >= 400 && status < 500 && parserError.expose !== false) {
      const titles: Record<string, string> = {
        'entity.too.large': 'Payload Too Large',
        'entity.parse.failed': 'Malformed Body',
        'encoding.unsupported': 'Unsupported Encoding',
      };
      sendProblem(res, {
        type: 'about:blank',
        title: titles[parserError.type ?? ''] ?? 'Bad Request',
        status,
        detail: (error as Error).message,
      });
      return;
    }
    req.log.error({ err: error }, 'unhandled error');
    sendProblem(res, { type: 'about:blank', title: 'Internal Server Error', status: 500 });
  };
}

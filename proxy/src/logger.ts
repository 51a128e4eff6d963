/**
 * pino JSON logs to stdout. Secrets never reach a log line: known header and property names are
 * redacted by path, and URLs are scrubbed of path tokens and secret-looking query values.
 */
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

const SECRET_KEYS = [
  'password',
  'secret',
  'token',
  'accessToken',
  'access_token',
  'refreshToken',
  'refresh_token',
  'clientSecret',
  'client_secret',
  'apiKey',
  'apiToken',
  'privateKey',
  'assertion',
  'sessionId',
  'webhookSecrets',
  'authorization',
];

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["custompms-signature"]',
  'req.headers["x-api-key"]',
  'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.Authorization',
  ...SECRET_KEYS,
  ...SECRET_KEYS.map((key) => `*.${key}`),
  ...SECRET_KEYS.map((key) => `*.*.${key}`),
];

const TOKEN_IN_PATH = /(\/outbound-messages\/)[^/?#]+/g;
const SECRET_QUERY = /([?&](?:token|access_token|api_key|key|secret|signature|sig)=)[^&#]*/gi;

/** Removes secrets carried in a URL (the outbound-message path token, secret query values). */
export function scrubUrl(url: string): string {
  return url.replace(TOKEN_IN_PATH, '$1[Redacted]').replace(SECRET_QUERY, '$1[Redacted]');
}

export function createLogger(
  options: { level: string; name?: string },
  destination?: pino.DestinationStream,
): Logger {
  return pino(
    {
      name: options.name ?? 'custompms-sync',
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

/**
 * Builds the Express app from its dependencies without listening, so tests drive it with
 * supertest and `server.ts` owns the socket.
 */
import express, { type Express, type Router } from 'express';
import helmet from 'helmet';
import type pg from 'pg';
import type { Logger } from 'pino';
import { missingConfiguration, type Config } from './config';
import { adminApiRouter } from './http/admin-api';
import { apexApiRouter } from './http/apex-api';
import { custompmsWebhookRouter } from './http/custompms-webhooks';
import { operatorRouters } from './http/console';
import { conflictWriterFor } from './http/conflict-writer';
import { healthRouter } from './http/health';
import { outboundMessageRouter } from './http/outbound-messages';
import { errorHandler, notFound } from './http/problem';
import { requestLogging } from './http/request-logging';

export interface AppDeps {
  config: Config;
  logger: Logger;
  pool: pg.Pool;
  /**
   * Feature routers mounted after health checks; each brings its own body parser and auth.
   * Default: the product's routes, configured from `config`.
   */
  routers?: Router[];
}

/** The product's routes: Salesforce outbound messages, the API for the org's Apex, Custompms webhooks, the admin API. */
export function productRouters(deps: Pick<AppDeps, 'config' | 'logger' | 'pool'>): Router[] {
  const { config, pool, logger } = deps;
  return [
    outboundMessageRouter({
      pool,
      token: config.salesforce.outboundMessageTokens,
      organizationId: config.salesforce.orgId,
    }),
    apexApiRouter({ pool, apiKey: config.salesforce.proxyApiKeys, bodyLimit: config.bodyLimit }),
    custompmsWebhookRouter({ pool, secrets: config.custompms.webhookSecrets, logger }),
    adminApiRouter({
      pool,
      logger,
      apiKey: config.adminApiKeys,
      notConfigured: missingConfiguration(config),
      config,
      conflictWriter: conflictWriterFor(config, logger),
    }),
    // The operator console (/console) and GET /metrics.
    ...operatorRouters({ config, pool, logger }),
  ];
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  // Heroku's router is the one proxy in front of the dyno.
  app.set('trust proxy', 1);
  app.use(helmet());
  app.use(requestLogging(deps.logger));
  app.use(healthRouter(deps.pool, missingConfiguration(deps.config)));
  for (const router of deps.routers ?? productRouters(deps)) app.use(router);
  app.use(notFound);
  app.use(errorHandler());
  return app;
}

/**
 * The operator's surfaces beside the admin API: the console under `/console` and `GET /metrics`,
 * configured from the proxy's configuration (app.ts mounts them with the product's routes).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { Router } from 'express';
import type pg from 'pg';
import type { Logger } from 'pino';
import type { Config } from '../../config';
import { appliedMigrationId } from '../../store/migrate';
import { conflictWriterFor } from '../conflict-writer';
import { liveReaderFor } from '../live-record';
import { metricsRouter } from '../metrics-endpoint';
import { consoleRouter } from './router';

export { consoleRouter, ADMIN_PERMISSION_SET, CONSOLE_SCRIPTS } from './router';

function packageVersion(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'custompms-salesforce-sync') return pkg.version ?? 'unknown';
    }
  }
  return 'unknown';
}

export function operatorRouters(deps: { config: Config; pool: pg.Pool; logger: Logger }): Router[] {
  const { config, pool, logger } = deps;
  const version = packageVersion();
  return [
    metricsRouter({ pool, apiKeys: config.metricsApiKeys }),
    consoleRouter({
      pool,
      logger,
      config,
      login: config.console.clientId
        ? {
            loginUrl: config.salesforce.loginUrl,
            clientId: config.console.clientId,
            clientSecret: config.console.clientSecret,
            apiVersion: config.salesforce.apiVersion,
          }
        : undefined,
      publicUrl: config.publicUrl,
      sessionMinutes: config.console.sessionMinutes,
      conflictWriter: conflictWriterFor(config, logger),
      liveReader: liveReaderFor(config, pool, logger),
      versions: async () => ({
        proxy: version,
        node: process.version,
        'database schema (migration)': await appliedMigrationId(pool),
        'Salesforce API': config.salesforce.apiVersion,
        'write path': config.salesforce.writePath,
      }),
    }),
  ];
}

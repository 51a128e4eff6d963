/**
 * Liveness and readiness for Heroku and load balancers. `/healthz` says the process answers;
 * `/readyz` says the database is reachable and fully migrated (503 otherwise). Both list what is
 * not configured yet (`notConfigured`): a proxy without credentials is up and ready to be
 * configured, not broken.
 */
import { Router } from 'express';
import type pg from 'pg';
import { appliedMigrationId, latestMigrationId } from '../store/migrate';
import { sendProblem } from './problem';

export function healthRouter(pool: pg.Pool, notConfigured: Record<string, string | undefined> = {}): Router {
  const router = Router();
  const expected = latestMigrationId();
  const missing = Object.fromEntries(
    Object.entries(notConfigured).filter(([, reason]) => reason !== undefined),
  );
  const configuration = Object.keys(missing).length > 0 ? { notConfigured: missing } : {};

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok', ...configuration });
  });

  router.get('/readyz', async (req, res) => {
    try {
      const applied = await appliedMigrationId(pool);
      if (applied < expected) {
        sendProblem(res, {
          type: 'about:blank',
          title: 'Not Ready',
          status: 503,
          detail: `database schema at migration ${applied}, expected ${expected}`,
        });
        return;
      }
      res.json({ status: 'ready', migration: applied, ...configuration });
    } catch (error) {
      req.log.warn({ err: error }, 'readiness check failed');
      sendProblem(res, {
        type: 'about:blank',
        title: 'Not Ready',
        status: 503,
        detail: 'database unreachable',
      });
    }
  });
  return router;
}

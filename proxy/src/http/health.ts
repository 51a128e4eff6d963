/**
 * Liveness and readiness for Heroku and load balancers. `/healthz` says the process answers;
 * `/readyz` says the database is reachable and fully migrated (503 otherwise).
 */
import { Router } from 'express';
import type pg from 'pg';
import { appliedMigrationId, latestMigrationId } from '../store/migrate';
import { sendProblem } from './problem';

export function healthRouter(pool: pg.Pool): Router {
  const router = Router();
  const expected = latestMigrationId();

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
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
      res.json({ status: 'ready', migration: applied });
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

/**
 * Bulk API 2.0 ingest routes (`/services/data/vNN.0/jobs/ingest`). Every request counts as an
 * API call (creation, upload, close, each poll, each results download).
 */
import { Router } from 'express';
import { context, param, sendJson } from './common';

export function bulk2Router(): Router {
  const router = Router({ mergeParams: true });

  router.post('/jobs/ingest', (req, res) => {
    const ctx = context(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    sendJson(res, 200, ctx.org.bulk.create(body, ctx.user, ctx.version));
  });

  router.get('/jobs/ingest', (_req, res) => {
    const ctx = context(res);
    sendJson(res, 200, ctx.org.bulk.list(ctx.version));
  });

  router.put('/jobs/ingest/:id/batches', (req, res) => {
    const ctx = context(res);
    const body: unknown = req.body;
    ctx.org.bulk.upload(
      param(req, 'id'),
      typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : '',
    );
    res.status(201).end();
  });

  router.get('/jobs/ingest/:id', (req, res) => {
    const ctx = context(res);
    sendJson(res, 200, ctx.org.bulk.getInfo(param(req, 'id'), ctx.version));
  });

  router.patch('/jobs/ingest/:id', (req, res) => {
    const ctx = context(res);
    const body = (req.body ?? {}) as Record<string, unknown>;
    sendJson(res, 200, ctx.org.bulk.setState(param(req, 'id'), body.state, ctx.version));
  });

  router.delete('/jobs/ingest/:id', (req, res) => {
    context(res).org.bulk.delete(param(req, 'id'));
    res.status(204).end();
  });

  const csv = (kind: 'successfulResults' | 'failedResults' | 'unprocessedrecords') =>
    router.get(`/jobs/ingest/:id/${kind}`, (req, res) => {
      const { org } = context(res);
      const id = param(req, 'id');
      const text =
        kind === 'successfulResults'
          ? org.bulk.successfulResults(id)
          : kind === 'failedResults'
            ? org.bulk.failedResults(id)
            : org.bulk.unprocessedRecords(id);
      res.status(200).type('text/csv').send(text);
    });
  csv('successfulResults');
  csv('failedResults');
  csv('unprocessedrecords');

  return router;
}

/**
 * The planned Salesforce write stored beside a pending record (outbox rows, change batches and
 * backfill items): the link to store once the write succeeds and the write itself. It is JSON in
 * PostgreSQL, so it is validated when read back (zod) rather than cast: a row written by an
 * older proxy, or edited by hand, fails loudly here instead of deep inside the sync core.
 */
import { z } from 'zod';
import { FLOW_NAMES, type Link, type Side, type Write } from '../sync';

export interface PendingWrite {
  /** The link to store once the write succeeded (before the write's result is folded in). */
  link: Link;
  write: Write;
  /** The side the change came from. */
  source: Side;
  /** Backfill only: no link existed before, the write also pairs the records. */
  pairs?: boolean;
}

const side = z.enum(['custompms', 'salesforce']);
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const values = z.record(z.string(), scalar);
const version = z.union([z.number(), z.string(), z.null()]);
// Loose objects: keys this proxy does not know are kept, not stripped (a newer proxy may add some).
const sideState = z.looseObject({
  version,
  modifiedAt: z.string().nullable(),
  deleted: z.boolean(),
  written: z.record(z.string(), z.union([z.number(), z.string()])).optional(),
});

export const linkSchema: z.ZodType<Link> = z.looseObject({
  flow: z.enum(FLOW_NAMES as [Link['flow'], ...Link['flow'][]]),
  custompmsId: z.string().nullable(),
  salesforceId: z.string().nullable(),
  status: z.enum(['active', 'unlinked']),
  snapshot: z.looseObject({ custompms: values, salesforce: values }),
  custompms: sideState,
  salesforce: sideState,
});

export const writeSchema: z.ZodType<Write> = z.looseObject({
  side,
  action: z.enum(['create', 'update', 'delete']),
  id: z.string().nullable(),
  fields: values,
  expectedVersion: version,
});

const pendingWriteSchema: z.ZodType<PendingWrite> = z.looseObject({
  link: linkSchema,
  write: writeSchema,
  source: side,
  pairs: z.boolean().optional(),
});

export class InvalidStoredWriteError extends Error {
  readonly code = 'INVALID_STORED_WRITE';
  constructor(where: string, issues: string) {
    super(`the pending write stored in ${where} is not valid: ${issues}`);
    this.name = 'InvalidStoredWriteError';
  }
}

/** Validates a pending write read back from `where` (a table name, for the error). */
export function parsePendingWrite(raw: unknown, where: string): PendingWrite {
  const parsed = pendingWriteSchema.safeParse(raw);
  if (!parsed.success) {
    throw new InvalidStoredWriteError(
      where,
      parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '),
    );
  }
  return parsed.data;
}

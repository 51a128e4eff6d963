/**
 * Writes a conflict's losing value into Custompms (the console's and the admin API's "apply the
 * other value"); the record's next sync carries it to Salesforce. A value that lost in
 * Salesforce form is converted for the plain kinds (text, numbers, dates, yes/no) and picklists;
 * owner and reference fields need the sync's context and are refused.
 */
import type { Logger } from 'pino';
import type { Config } from '../config';
import { createCustompmsClient, type CustompmsClient } from '../custompms';
import type { ConflictRow } from '../store/console-queries';
import { FLOWS, type FlowName, type SyncDefinition } from '../sync';
import type { ConflictWriter } from './operations';

export class ConflictNotApplicableError extends Error {
  readonly code = 'CONFLICT_NOT_APPLICABLE';
  constructor(message: string) {
    super(message);
    this.name = 'ConflictNotApplicableError';
  }
}

const PLAIN = new Set(['string', 'textarea', 'date', 'datetime', 'boolean', 'number']);

/** The Custompms form of a conflict's losing value. */
export function custompmsValueOf(conflict: ConflictRow, value: unknown, definition: SyncDefinition = FLOWS) {
  const flow = definition[conflict.flow as FlowName];
  const field = flow?.fields.find((candidate) => candidate.key === conflict.field);
  if (!flow || !field || !field.custompms) {
    throw new ConflictNotApplicableError(`field ${conflict.field} has no Custompms property`);
  }
  if (conflict.winner === 'salesforce') return { flow, property: field.custompms, value };
  // Custompms won: the value to apply is Salesforce's, in Salesforce form.
  if (field.kind === 'picklist') {
    if (value === null) return { flow, property: field.custompms, value: null };
    const mapped = Object.entries(field.toCustompms ?? {}).find(
      ([from]) => from === JSON.stringify(value).replace(/^"|"$/g, ''),
    )?.[1];
    if (mapped === undefined) {
      throw new ConflictNotApplicableError(`no Custompms ${field.custompms} for ${JSON.stringify(value)}`);
    }
    return { flow, property: field.custompms, value: mapped };
  }
  if (!PLAIN.has(field.kind)) {
    throw new ConflictNotApplicableError(`a ${field.kind} field cannot be applied from the console`);
  }
  return { flow, property: field.custompms, value };
}

export function custompmsConflictWriter(
  client: () => CustompmsClient,
  definition: () => SyncDefinition = () => FLOWS,
): ConflictWriter {
  return async (conflict, value) => {
    const { flow, property, value: converted } = custompmsValueOf(conflict, value, definition());
    const custompms = client();
    const current = (await custompms.get(flow.custompmsCollection, conflict.custompmsId!)) as {
      version: number;
    };
    await custompms.update(
      flow.custompmsCollection,
      conflict.custompmsId!,
      { [property]: converted },
      {
        ifMatch: current.version,
      },
    );
  };
}

/** The writer for this configuration (a Custompms client made on first use); none without Custompms. */
export function conflictWriterFor(config: Config, logger: Logger): ConflictWriter | undefined {
  if (!config.custompms.baseUrl) return undefined;
  let client: CustompmsClient | undefined;
  return custompmsConflictWriter(() => (client ??= createCustompmsClient(config.custompms, { logger })));
}

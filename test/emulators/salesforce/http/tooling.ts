/**
 * The Tooling API's FlowDefinition, the one way a deploy script can activate a Flow version
 * through an API without deploying it as active (Tooling API Reference, "FlowDefinition":
 * `Metadata.activeVersionNumber` — "The number of the active version of the flow … To deactivate
 * a flow, set activeVersionNumber to 0"; jsforce `conn.tooling.sobject('FlowDefinition')
 * .update({ Id, Metadata: { activeVersionNumber } })` sends `PATCH
 * /services/data/vNN.0/tooling/sobjects/FlowDefinition/{Id}`).
 *
 * - `GET tooling/query?q=SELECT … FROM FlowDefinition [WHERE DeveloperName = 'X']`: Id,
 *   DeveloperName, ActiveVersionId, LatestVersionId, ActiveVersion.VersionNumber,
 *   LatestVersion.VersionNumber (any selected subset; other queries: 400 INVALID_TYPE).
 * - `GET tooling/sobjects/FlowDefinition/{Id}` and `PATCH` with `{"Metadata":
 *   {"activeVersionNumber": n}}` (0 or null deactivates). Activating needs the Manage Flow
 *   permission or Modify All Data (Salesforce Help, "Flow Builder permissions": "Manage Flow").
 */
import { Router, type Request } from 'express';
import { ApiError } from '../errors';
import type { SalesforceOrg } from '../org';
import { context, param, queryParam, sendJson } from './common';

const FLOW_DEFINITION_PREFIX = '300';
const FLOW_VERSION_PREFIX = '301';

function definitionId(org: SalesforceOrg, name: string): string {
  return org.flowDefinitionId(name, FLOW_DEFINITION_PREFIX);
}

function versionId(org: SalesforceOrg, name: string, version: number | null): string | null {
  return version === null ? null : org.flowDefinitionId(`${name}#${version}`, FLOW_VERSION_PREFIX);
}

function definitionRecord(org: SalesforceOrg, name: string, version: string): Record<string, unknown> {
  const versions = org.schema.flowVersions.get(name) ?? [];
  const active = org.schema.activeFlowVersion(name);
  const latest = versions.length || null;
  const id = definitionId(org, name);
  return {
    attributes: {
      type: 'FlowDefinition',
      url: `/services/data/v${version}/tooling/sobjects/FlowDefinition/${id}`,
    },
    Id: id,
    DeveloperName: name,
    ActiveVersionId: versionId(org, name, active),
    LatestVersionId: versionId(org, name, latest),
    ActiveVersion: active === null ? null : { attributes: { type: 'Flow' }, VersionNumber: active },
    LatestVersion: latest === null ? null : { attributes: { type: 'Flow' }, VersionNumber: latest },
    Metadata: { activeVersionNumber: active },
  };
}

function byId(org: SalesforceOrg, id: string): string {
  for (const name of org.schema.flowVersions.keys()) if (definitionId(org, name) === id) return name;
  throw new ApiError(404, 'NOT_FOUND', 'The requested resource does not exist');
}

function select(record: Record<string, unknown>, fields: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { attributes: record.attributes };
  for (const field of fields) {
    const [head, tail] = field.split('.') as [string, string | undefined];
    const key = Object.keys(record).find((k) => k.toLowerCase() === head.toLowerCase());
    if (!key) {
      throw new ApiError(400, 'INVALID_FIELD', `No such column '${field}' on entity 'FlowDefinition'`);
    }
    if (!tail) out[key] = record[key];
    else {
      const inner = record[key] as Record<string, unknown> | null;
      out[key] = inner ? { attributes: inner.attributes, VersionNumber: inner.VersionNumber } : null;
    }
  }
  return out;
}

export function toolingRouter(): Router {
  const router = Router({ mergeParams: true });

  router.get('/tooling/query', (req, res) => {
    const { org, version } = context(res);
    const q = queryParam(req, 'q') ?? '';
    const match =
      /^\s*SELECT\s+(.+?)\s+FROM\s+FlowDefinition(?:\s+WHERE\s+DeveloperName\s*=\s*'([^']*)')?\s*$/i.exec(q);
    if (!match) {
      throw new ApiError(
        400,
        'INVALID_TYPE',
        "The emulator's Tooling API answers only FlowDefinition queries",
      );
    }
    const fields = match[1]!.split(',').map((f) => f.trim());
    const names = [...org.schema.flowVersions.keys()].filter((n) => match[2] === undefined || n === match[2]);
    const records = names.map((name) => select(definitionRecord(org, name, version), fields));
    sendJson(res, 200, {
      size: records.length,
      totalSize: records.length,
      done: true,
      entityTypeName: 'FlowDefinition',
      records,
    });
  });

  router.get('/tooling/sobjects/FlowDefinition/:id', (req: Request, res) => {
    const { org, version } = context(res);
    sendJson(res, 200, definitionRecord(org, byId(org, param(req, 'id')), version));
  });

  router.patch('/tooling/sobjects/FlowDefinition/:id', (req: Request, res) => {
    const { org, access } = context(res);
    const name = byId(org, param(req, 'id'));
    if (!access.has('ManageFlow') && !access.modifyAllData) {
      throw new ApiError(400, 'INSUFFICIENT_ACCESS_OR_READONLY', 'insufficient access rights on object id');
    }
    const body = req.body as { Metadata?: { activeVersionNumber?: unknown } } | undefined;
    const raw = body?.Metadata?.activeVersionNumber;
    if (raw !== null && raw !== undefined && (typeof raw !== 'number' || !Number.isInteger(raw))) {
      throw new ApiError(400, 'INVALID_FIELD', 'activeVersionNumber must be a version number');
    }
    const n = typeof raw === 'number' && raw > 0 ? raw : null;
    try {
      org.activateFlow(name, n);
    } catch (error) {
      throw new ApiError(400, 'FIELD_INTEGRITY_EXCEPTION', (error as Error).message);
    }
    res.status(204).end();
  });

  return router;
}

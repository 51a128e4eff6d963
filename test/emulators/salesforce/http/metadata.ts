/**
 * The Metadata API face the sf CLI uses (shared/SF_CLI_WIRE.md): SOAP `POST /services/Soap/m/NN.0`
 * with `deploy`, `checkDeployStatus`, `cancelDeploy` and `deployRecentValidation`, authenticated
 * by `SessionHeader/sessionId`; the REST variant `…/metadata/deployRequest` (multipart `file` +
 * `entity_content`); and Tooling `runTestsAsynchronous`/`runTestsSynchronous`, answered with an
 * honest error because Apex does not run here.
 * SOAP answers follow the CLI's parser: prefixed Envelope/Body, unprefixed payload in the
 * metadata namespace, `text/xml`, no `xsi:nil` elements; faults carry `sf:CODE` fault codes.
 */
import express, { type Request, type Response, type Router } from 'express';
import JSZip from 'jszip';
import { ApiError } from '../errors';
import type { DeployRequestOptions } from '../metadata/jobs';
import { APEX_TESTS_UNAVAILABLE, DeployRefused, deployResult } from '../metadata/jobs';
import type { SalesforceOrg } from '../org';
import {
  child,
  childText,
  children,
  escapeXml,
  localName,
  parseXml,
  text,
  type XmlNode,
  type XmlValue,
} from '../xml';
import { context, param, sendJson } from './common';

const MD_NS = 'http://soap.sforce.com/2006/04/metadata';
/** Metadata API limits: 10,000 files and 400 MB uncompressed per deploy ("Metadata API Limits"). */
const MAX_FILES = 10_000;
const MAX_UNZIPPED_BYTES = 400 * 1024 * 1024;

class SoapFault extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Reads a deploy zip into path → text (binary-safe enough: every type here is text). */
export async function unzipPackage(zip: Buffer): Promise<Map<string, string>> {
  let archive: JSZip;
  try {
    archive = await JSZip.loadAsync(zip);
  } catch (error) {
    throw new SoapFault('INVALID_ZIP', `The zip file is invalid: ${(error as Error).message}`);
  }
  const entries = Object.values(archive.files).filter((f) => !f.dir);
  if (entries.length > MAX_FILES)
    throw new SoapFault('LIMIT_EXCEEDED', `A deploy may carry at most ${MAX_FILES} files`);
  const files = new Map<string, string>();
  let total = 0;
  for (const entry of entries) {
    const name = entry.name.replace(/\\/g, '/');
    if (name.split('/').includes('..') || name.startsWith('/'))
      throw new SoapFault('INVALID_ZIP', `The zip entry ${name} points outside the package`);
    const content = await entry.async('string');
    total += content.length;
    if (total > MAX_UNZIPPED_BYTES)
      throw new SoapFault('LIMIT_EXCEEDED', 'The unzipped package is larger than 400 MB');
    files.set(name, content);
  }
  return files;
}

function xmlValue(name: string, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map((v) => xmlValue(name, v)).join('');
  if (typeof value === 'object') {
    const inner = Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => xmlValue(k, v))
      .join('');
    return `<${name}>${inner}</${name}>`;
  }
  const scalar =
    typeof value === 'string'
      ? value
      : typeof value === 'number' || typeof value === 'boolean'
        ? `${value}`
        : '';
  return `<${name}>${escapeXml(scalar)}</${name}>`;
}

function soapEnvelope(body: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>' +
    `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="${MD_NS}">` +
    `<soapenv:Body>${body}</soapenv:Body></soapenv:Envelope>`
  );
}

function sendSoap(res: Response, status: number, body: string): void {
  res.status(status).type('text/xml; charset=utf-8').send(soapEnvelope(body));
}

function sendFault(res: Response, code: string, message: string): void {
  res
    .status(500)
    .type('text/xml; charset=utf-8')
    .send(
      '<?xml version="1.0" encoding="UTF-8"?>' +
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="http://soap.sforce.com/2006/04/metadata">' +
        `<soapenv:Body><soapenv:Fault><faultcode>sf:${code}</faultcode><faultstring>${escapeXml(`${code}: ${message}`)}</faultstring>` +
        '</soapenv:Fault></soapenv:Body></soapenv:Envelope>',
    );
}

const bool = (value: unknown, fallback: boolean): boolean =>
  value === undefined || value === null || value === '' ? fallback : value === true || value === 'true';

/** DeployOptions from SOAP or REST (`deployOptions` JSON). */
function deployOptions(
  get: (name: string) => unknown,
  all: (name: string) => string[],
): DeployRequestOptions {
  const testLevel = get('testLevel');
  return {
    checkOnly: bool(get('checkOnly'), false),
    testLevel: typeof testLevel === 'string' && testLevel ? testLevel : undefined,
    runTests: all('runTests'),
    rollbackOnError: bool(get('rollbackOnError'), true),
    ignoreWarnings: bool(get('ignoreWarnings'), false),
    singlePackage: bool(get('singlePackage'), true),
  };
}

function sessionUser(org: SalesforceOrg, sessionId: string | undefined) {
  const session = sessionId ? org.oauth.validate(sessionId) : undefined;
  const user = session ? org.users.byId(session.userId) : undefined;
  if (!user || user.IsActive !== true)
    throw new SoapFault('INVALID_SESSION_ID', 'Invalid Session ID found in SessionHeader: Illegal Session');
  return { id: user.Id as string, name: String(user.Name ?? user.Username) };
}

/** `POST /services/Soap/m/:version` */
export function metadataSoapRouter(org: SalesforceOrg): Router {
  const router = express.Router();
  router.post(
    '/services/Soap/m/:version',
    express.text({ type: () => true, limit: '600mb' }),
    async (req: Request, res: Response) => {
      try {
        const raw = typeof req.body === 'string' ? req.body : '';
        let envelope: XmlNode;
        try {
          envelope = parseXml(raw);
        } catch (error) {
          throw new SoapFault('INVALID_XML', (error as Error).message);
        }
        const env = Object.entries(envelope).find(([k]) => localName(k) === 'Envelope')?.[1];
        const header = child(child(env, 'Header'), 'SessionHeader');
        const user = sessionUser(org, childText(header, 'sessionId'));
        const body = child(env, 'Body');
        const [operationKey, op] =
          Object.entries((body ?? {}) as Record<string, XmlValue>).find(([k]) => !k.startsWith('@_')) ?? [];
        const operation = operationKey ? localName(operationKey) : '';
        switch (operation) {
          case 'deploy': {
            const zip = Buffer.from(childText(op, 'ZipFile') ?? '', 'base64');
            const files = await unzipPackage(zip);
            const opts = child(op, 'DeployOptions');
            const job = org.deploys.start(
              files,
              deployOptions(
                (n) => childText(opts, n),
                (n) =>
                  children(opts, n)
                    .map((v) => text(v) ?? '')
                    .concat([child(opts, n)].filter((v): v is string => typeof v === 'string')),
              ),
              user,
            );
            sendSoap(
              res,
              200,
              `<deployResponse><result><done>false</done><id>${job.id}</id><state>Queued</state></result></deployResponse>`,
            );
            return;
          }
          case 'checkDeployStatus': {
            const id = childText(op, 'asyncProcessId') ?? '';
            const job = org.deploys.jobs.get(id);
            if (!job) throw new SoapFault('INVALID_ID_FIELD', `invalid deploy id: ${id}`);
            const result = deployResult(job, bool(childText(op, 'includeDetails'), false));
            sendSoap(
              res,
              200,
              `<checkDeployStatusResponse>${xmlValue('result', result)}</checkDeployStatusResponse>`,
            );
            return;
          }
          case 'cancelDeploy': {
            const id = childText(op, 'String') ?? childText(op, 'asyncProcessId') ?? '';
            const job = org.deploys.cancel(id);
            if (!job) throw new SoapFault('INVALID_ID_FIELD', `invalid deploy id: ${id}`);
            sendSoap(
              res,
              200,
              `<cancelDeployResponse><result><done>${job.status === 'Canceled'}</done><id>${job.id}</id></result></cancelDeployResponse>`,
            );
            return;
          }
          case 'deployRecentValidation': {
            const id = childText(op, 'validationId') ?? '';
            const job = org.quickDeploy(id, user);
            if (!job) throw new SoapFault('INVALID_ID_FIELD', `No successful validation with id ${id}`);
            sendSoap(
              res,
              200,
              `<deployRecentValidationResponse><result>${job.id}</result></deployRecentValidationResponse>`,
            );
            return;
          }
          default:
            throw new SoapFault(
              'INVALID_OPERATION',
              `The emulator does not implement the Metadata API call ${operation || '(none)'}`,
            );
        }
      } catch (error) {
        if (error instanceof SoapFault || error instanceof DeployRefused) {
          sendFault(res, error.code, error.message);
          return;
        }
        org.warn('metadata', `unexpected error: ${(error as Error).stack ?? String(error)}`);
        sendFault(res, 'UNKNOWN_EXCEPTION', 'An unexpected error occurred');
      }
    },
  );
  return router;
}

/** Splits a multipart/form-data body into its parts (name → bytes). */
function multipartParts(body: Buffer, contentType: string): Map<string, Buffer> {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (!boundary) throw new ApiError(400, 'INVALID_MULTIPART_REQUEST', 'multipart boundary missing');
  const delimiter = Buffer.from(`--${boundary}`);
  const parts = new Map<string, Buffer>();
  let start = body.indexOf(delimiter);
  while (start >= 0) {
    const next = body.indexOf(delimiter, start + delimiter.length);
    if (next < 0) break;
    const part = body.subarray(start + delimiter.length + 2, next - 2);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd >= 0) {
      const headers = part.subarray(0, headerEnd).toString('utf8');
      const name = /name="([^"]+)"/i.exec(headers)?.[1];
      if (name) parts.set(name, part.subarray(headerEnd + 4));
    }
    start = next;
  }
  return parts;
}

/** REST `metadata/deployRequest` and Tooling test runs, under `/services/data/vNN.0`. */
export function metadataRestRouter(): Router {
  const router = express.Router();
  const restResult = (req: Request, job: Parameters<typeof deployResult>[0]) => ({
    id: job.id,
    validatedDeployRequestId: job.validatedDeployRequestId ?? null,
    deployOptions: job.options,
    deployResult: deployResult(job, req.query.includeDetails === 'true'),
  });
  router.post(
    '/metadata/deployRequest',
    express.raw({ type: () => true, limit: '600mb' }),
    async (req, res) => {
      const { org, user } = context(res);
      const who = { id: user.id, name: user.username };
      const type = req.get('content-type') ?? '';
      const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      try {
        if (type.startsWith('application/json')) {
          // express.json upstream may already have parsed it.
          const json = (
            Buffer.isBuffer(req.body) ? JSON.parse(raw.toString('utf8') || '{}') : (req.body ?? {})
          ) as { validatedDeployRequestId?: string };
          const job = org.quickDeploy(json.validatedDeployRequestId ?? '', who);
          if (!job) throw new ApiError(400, 'INVALID_ID_FIELD', 'No successful validation with that id');
          sendJson(res, 201, restResult(req, job));
          return;
        }
        const parts = multipartParts(raw, type);
        const zip = parts.get('file');
        if (!zip) throw new ApiError(400, 'INVALID_MULTIPART_REQUEST', 'the request has no file part');
        const entity = JSON.parse(parts.get('entity_content')?.toString('utf8') ?? '{}') as {
          deployOptions?: Record<string, unknown>;
        };
        const o = entity.deployOptions ?? {};
        const files = await unzipPackage(zip);
        const job = org.deploys.start(
          files,
          deployOptions(
            (n) => o[n],
            (n) => (Array.isArray(o[n]) ? (o[n] as unknown[]).map(String) : []),
          ),
          who,
        );
        sendJson(res, 201, restResult(req, job));
      } catch (error) {
        if (error instanceof SoapFault || error instanceof DeployRefused)
          throw new ApiError(400, error.code, error.message);
        throw error;
      }
    },
  );
  router.get('/metadata/deployRequest/:id', (req, res) => {
    const { org } = context(res);
    const job = org.deploys.jobs.get(param(req, 'id'));
    if (!job) throw new ApiError(404, 'NOT_FOUND', 'The requested resource does not exist');
    sendJson(res, 200, restResult(req, job));
  });
  router.patch('/metadata/deployRequest/:id', express.json(), (req, res) => {
    const { org } = context(res);
    const wanted = (req.body as { deployResult?: { status?: string } } | undefined)?.deployResult?.status;
    if (wanted !== 'Canceling')
      throw new ApiError(400, 'INVALID_INPUT', 'only deployResult.status = Canceling is accepted');
    const job = org.deploys.cancel(param(req, 'id'));
    if (!job) throw new ApiError(404, 'NOT_FOUND', 'The requested resource does not exist');
    sendJson(res, 202, restResult(req, job));
  });
  // Apex does not run in the emulator: say so rather than invent test results.
  for (const path of ['/tooling/runTestsAsynchronous', '/tooling/runTestsSynchronous']) {
    router.post(path, () => {
      throw new ApiError(400, 'APEX_TESTS_NOT_AVAILABLE', APEX_TESTS_UNAVAILABLE);
    });
  }
  return router;
}

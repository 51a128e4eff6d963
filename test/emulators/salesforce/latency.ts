/**
 * The emulated org's latency model: what a client far from a real org waits for, per route
 * category. Zero by default (tests); `realistic` is the documented profile the benchmarks use
 * (README "Latency profiles"). Applied by the HTTP layer (round trip, per-record server time), the
 * Bulk API 2.0 service (queue time, processing rate), the event bus and the Apex runtime.
 */
import type { RouteCategory } from './faults';
import { categorize } from './http/common';

export interface LatencyProfile {
  name: string;
  /** Round trip added to every request of a category (ms); `default` for the categories not named. */
  rttMs: Partial<Record<RouteCategory, number>> & { default: number };
  /** Server time per record a synchronous write carries (sObject and Collections DML), ms. */
  perRecordMs: number;
  /**
   * Bulk API 2.0 ingest: each job's queue time after UploadComplete, then the org's ingest rate in
   * records per second (0: at once), one rate shared by all the jobs InProgress at once
   * (services/bulk2.ts): more jobs in parallel overlap their queue times, never add capacity.
   */
  bulk: { queueMs: number; recordsPerSecond: number };
  /** Platform event published → its triggers run (ms). */
  eventDeliveryMs: number;
  /** A Queueable enqueued → it starts (ms). */
  apexJobStartMs: number;
}

export type LatencyProfileName = 'zero' | 'realistic';

export const LATENCY_PROFILES: Readonly<Record<LatencyProfileName, LatencyProfile>> = {
  zero: {
    name: 'zero',
    rttMs: { default: 0 },
    perRecordMs: 0,
    bulk: { queueMs: 0, recordsPerSecond: 0 },
    eventDeliveryMs: 0,
    apexJobStartMs: 0,
  },
  /**
   * A client in a nearby region of a production org (README "Latency profiles" gives the sources):
   * 50 ms round trip, 2 ms of server time per record written synchronously (a Task with a trigger
   * and a Flow), Bulk ingest queued 2 s then processed at 2,000 records/s for the whole org
   * (Salesforce splits a job into internal batches of 10,000 records, processed in parallel with
   * each other and with other jobs' batches, each allowed up to 5 minutes; it documents no rate,
   * and no more capacity for more jobs, so the rate is the org's, shared by its jobs), platform
   * events delivered in 200 ms, Queueables started in 300 ms.
   */
  realistic: {
    name: 'realistic',
    rttMs: { default: 50, oauth: 150 },
    perRecordMs: 2,
    bulk: { queueMs: 2_000, recordsPerSecond: 2_000 },
    eventDeliveryMs: 200,
    apexJobStartMs: 300,
  },
};

/** A profile by name, or the profile itself. */
export function latencyProfile(profile: LatencyProfile | LatencyProfileName): LatencyProfile {
  return typeof profile === 'string' ? LATENCY_PROFILES[profile] : profile;
}

/** The round trip of a request of this category. */
export function roundTripMs(profile: LatencyProfile, category: RouteCategory): number {
  return profile.rttMs[category] ?? profile.rttMs.default;
}

/**
 * Records a synchronous DML request carries (Collections: its `records` or `ids`; sObject: one;
 * Composite: what its subrequests carry, each priced as the same call on its own).
 */
export function recordsInRequest(
  category: RouteCategory,
  method: string,
  body: unknown,
  query: unknown,
): number {
  if (method === 'GET' || method === 'HEAD') return 0;
  if (category === 'sobjects') return 1;
  if (category !== 'composite') return 0;
  const requests = (body as { compositeRequest?: unknown } | undefined)?.compositeRequest;
  if (Array.isArray(requests)) return requests.reduce((sum: number, sub) => sum + subrequestRecords(sub), 0);
  const records = (body as { records?: unknown } | undefined)?.records;
  if (Array.isArray(records)) return records.length;
  const ids = (query as { ids?: unknown } | undefined)?.ids;
  if (typeof ids === 'string') return ids.split(',').length;
  return 1;
}

function subrequestRecords(sub: unknown): number {
  const { method, url, body } = (sub ?? {}) as { method?: unknown; url?: unknown; body?: unknown };
  if (typeof method !== 'string' || typeof url !== 'string') return 0;
  const match = /^\/services\/data\/v[^/?]+(\/[^?]*)?(?:\?(.*))?$/.exec(url);
  if (!match) return 0;
  const path = match[1] ?? '/';
  // A nested composite is refused before it runs; it carries nothing.
  if (/^\/composite\/?$/.test(path)) return 0;
  const query = Object.fromEntries(new URLSearchParams(match[2] ?? ''));
  return recordsInRequest(categorize(path), method, body, query);
}

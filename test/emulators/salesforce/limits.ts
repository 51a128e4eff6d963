/**
 * Org limits the emulator enforces and reports: the daily API request allowance (every
 * authenticated REST call counts, Bulk API 2.0 requests included — job creation, upload, close,
 * each poll, each results download — as Salesforce counts them), Bulk API batches (one per 10,000
 * records of an ingest job) and published platform events. A Composite request is one call, however
 * many subrequests it carries (REST API Developer Guide, "Send Multiple Requests Using Composite":
 * "The entire series of requests counts as a single call toward your API limits"); its
 * subrequests are counted apart. `Sforce-Limit-Info: api-usage=N/M`
 * goes on every REST answer (REST API Developer Guide, "Limit Info Header").
 */

export interface LimitsOptions {
  /** Daily API requests (Developer Edition 15,000; Enterprise 100,000 + 1,000 per licence). */
  dailyApiRequests: number;
  dailyBulkApiBatches: number;
  hourlyPublishedPlatformEvents: number;
}

export const DEFAULT_LIMITS: LimitsOptions = {
  dailyApiRequests: 100_000,
  dailyBulkApiBatches: 15_000,
  hourlyPublishedPlatformEvents: 250_000,
};

export interface ApiUsageSnapshot {
  used: number;
  max: number;
  /** Calls per route category (sobjects, composite, query, bulk2, describe, limits, ...). */
  byCategory: Record<string, number>;
  bulkBatches: number;
  publishedEvents: number;
  /**
   * Subrequests carried by Composite requests: not API calls ("The entire series of requests
   * counts as a single call toward your API limits"), counted for what the calls carried.
   */
  compositeSubrequests: number;
}

export class OrgLimits {
  private used = 0;
  private bulkBatches = 0;
  private publishedEvents = 0;
  private compositeSubrequests = 0;
  private byCategory = new Map<string, number>();

  constructor(public options: LimitsOptions = DEFAULT_LIMITS) {}

  /** Counts one API call; false when the allowance is already spent (the call is refused, not counted). */
  consume(category: string): boolean {
    if (this.used >= this.options.dailyApiRequests) return false;
    this.used += 1;
    this.byCategory.set(category, (this.byCategory.get(category) ?? 0) + 1);
    return true;
  }

  get apiUsed(): number {
    return this.used;
  }

  header(): string {
    return `api-usage=${this.used}/${this.options.dailyApiRequests}`;
  }

  consumeBulkBatches(count: number): void {
    this.bulkBatches += count;
  }

  countPublishedEvents(count: number): void {
    this.publishedEvents += count;
  }

  /** A Composite request's subrequests (the request itself was counted as one call). */
  countCompositeSubrequests(count: number): void {
    this.compositeSubrequests += count;
  }

  snapshot(): ApiUsageSnapshot {
    return {
      used: this.used,
      max: this.options.dailyApiRequests,
      byCategory: Object.fromEntries(this.byCategory),
      bulkBatches: this.bulkBatches,
      publishedEvents: this.publishedEvents,
      compositeSubrequests: this.compositeSubrequests,
    };
  }

  /** Starts a new "day" (or sets the counter, e.g. to test REQUEST_LIMIT_EXCEEDED). */
  reset(used = 0): void {
    this.used = used;
    this.bulkBatches = 0;
    this.publishedEvents = 0;
    this.compositeSubrequests = 0;
    this.byCategory = new Map();
  }

  /** The `/limits` resource body (REST API Developer Guide, "Limits"). */
  resource(): Record<string, { Max: number; Remaining: number }> {
    const o = this.options;
    return {
      DailyApiRequests: { Max: o.dailyApiRequests, Remaining: Math.max(0, o.dailyApiRequests - this.used) },
      DailyBulkApiBatches: {
        Max: o.dailyBulkApiBatches,
        Remaining: Math.max(0, o.dailyBulkApiBatches - this.bulkBatches),
      },
      DailyBulkV2QueryJobs: { Max: 10_000, Remaining: 10_000 },
      HourlyPublishedPlatformEvents: {
        Max: o.hourlyPublishedPlatformEvents,
        Remaining: Math.max(0, o.hourlyPublishedPlatformEvents - this.publishedEvents),
      },
      HourlyPublishedStandardVolumePlatformEvents: { Max: 100_000, Remaining: 100_000 },
      DailyAsyncApexExecutions: { Max: 250_000, Remaining: 250_000 },
      DataStorageMB: { Max: 5, Remaining: 5 },
    };
  }
}

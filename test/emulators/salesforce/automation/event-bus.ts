/**
 * The platform event bus: published events get a ReplayId and are delivered, after the publishing
 * transaction commits (PublishAfterCommit) or at once (PublishImmediately), to subscribers —
 * the Apex trigger transliterations, in batches of the subscriber's batch size (default 2,000,
 * Platform Events Developer Guide "Platform Event Subscriber Configuration"), and test observers.
 * Retention is kept in memory; delivery is asynchronous, as it is on the platform.
 */
import type { StoredRecord } from '../data/values';

export interface PublishedEvent {
  object: string;
  replayId: number;
  publishedAt: number;
  record: StoredRecord;
}

export interface Subscriber {
  /** A trigger name (for subscriber configs) or any label. */
  name: string;
  object: string;
  batchSize: number;
  deliver(events: PublishedEvent[]): Promise<void> | void;
}

export class EventBus {
  private readonly log = new Map<string, PublishedEvent[]>();
  private readonly subscribers: Subscriber[] = [];
  private replay = 0;
  private pending: Promise<void> = Promise.resolve();
  private inFlight = 0;
  /** Errors thrown by subscribers (a failing trigger does not stop the bus). */
  readonly failures: { subscriber: string; error: Error }[] = [];

  constructor(
    private readonly now: () => number,
    private readonly deliveryDelayMs = 0,
    private readonly onPublish: (count: number) => void = () => undefined,
  ) {}

  subscribe(subscriber: Subscriber): () => void {
    this.subscribers.push(subscriber);
    return () => {
      const i = this.subscribers.indexOf(subscriber);
      if (i >= 0) this.subscribers.splice(i, 1);
    };
  }

  /** Events published on a channel so far (oldest first). */
  published(object: string): PublishedEvent[] {
    return [...(this.log.get(object.toLowerCase()) ?? [])];
  }

  publish(object: string, records: StoredRecord[]): PublishedEvent[] {
    const events = records.map((record) => {
      this.replay += 1;
      return {
        object,
        replayId: this.replay,
        publishedAt: this.now(),
        record: { ...record, ReplayId: String(this.replay) },
      };
    });
    const key = object.toLowerCase();
    this.log.set(key, [...(this.log.get(key) ?? []), ...events]);
    this.onPublish(events.length);
    const targets = this.subscribers.filter((s) => s.object.toLowerCase() === key);
    for (const subscriber of targets) this.schedule(subscriber, events);
    return events;
  }

  private schedule(subscriber: Subscriber, events: PublishedEvent[]): void {
    this.inFlight += 1;
    const run = async (): Promise<void> => {
      await new Promise((resolve) => setTimeout(resolve, this.deliveryDelayMs));
      for (let i = 0; i < events.length; i += subscriber.batchSize) {
        try {
          await subscriber.deliver(events.slice(i, i + subscriber.batchSize));
        } catch (error) {
          this.failures.push({ subscriber: subscriber.name, error: error as Error });
        }
      }
    };
    // Deliveries run one after another, in publish order, like a single event channel.
    this.pending = this.pending.then(run).finally(() => {
      this.inFlight -= 1;
    });
  }

  /** Resolves when every scheduled delivery has run. */
  async idle(): Promise<void> {
    while (this.inFlight > 0) await this.pending;
  }
}

/**
 * Webhook delivery as Custompms does it: each event POSTed to the configured URL, signed with
 * the shared signer (one `v1` per secret), re-signed on every attempt, retried with exponential
 * backoff until a 2xx answer or the attempts run out, at most `maxInFlight` at once (a burst's
 * deliveries queue behind them). Loss, duplication and latency come from the fault injector.
 */
import http from 'node:http';
import https from 'node:https';
import type { WebhookEvent } from '../../../proxy/src/custompms/types';
import { SIGNATURE_HEADER, signWebhookPayload } from '../../../proxy/src/custompms/webhook-signature';
import type { FaultInjector } from './faults';

export interface WebhookTarget {
  url: string;
  /** One secret, or several while rotating (each signs a `v1`). */
  secret?: string;
  secrets?: string[];
  /** Attempts per delivery, the first included. Default 6. */
  maxAttempts?: number;
  /** Backoff before the first retry; doubles each time. Default 200 ms. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Per-attempt timeout. Default 5000 ms. */
  timeoutMs?: number;
  /**
   * Deliveries in flight at once to this target (docs/custompms-api.md: at most 10, over
   * keep-alive connections); the others wait their turn. Default 10.
   */
  maxInFlight?: number;
}

export interface DeliveryAttempt {
  eventId: string;
  eventType: string;
  /** 1-based attempt within this copy of the event. */
  attempt: number;
  /** 1 normally, 2 for the injected duplicate. */
  copy: number;
  status?: number;
  error?: string;
  at: number;
}

export type DeliveryOutcome = 'delivered' | 'failed' | 'lost' | 'no-target' | 'stopped';

export class WebhookDispatcher {
  #target: WebhookTarget | undefined;
  readonly #attempts: DeliveryAttempt[] = [];
  readonly #outcomes = new Map<string, DeliveryOutcome[]>();
  readonly #events: WebhookEvent[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #controller = new AbortController();
  #pending = 0;
  #inFlight = 0;
  readonly #agents: { http: http.Agent; https?: https.Agent } = { http: new http.Agent({ keepAlive: true }) };
  /** Deliveries waiting for one in flight to finish. */
  #queued: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];

  constructor(
    target: WebhookTarget | undefined,
    readonly faults: FaultInjector,
    readonly clock: () => number,
  ) {
    this.#target = target;
  }

  setTarget(target: WebhookTarget | undefined): void {
    this.#target = target;
  }

  /** Every event emitted, delivered or not. */
  events(): WebhookEvent[] {
    return [...this.#events];
  }

  /** Every delivery attempt, in order. */
  attempts(): DeliveryAttempt[] {
    return [...this.#attempts];
  }

  /** Final outcome of each copy of an event. */
  outcomes(eventId: string): DeliveryOutcome[] {
    return [...(this.#outcomes.get(eventId) ?? [])];
  }

  get pending(): number {
    return this.#pending;
  }

  emit(event: WebhookEvent): void {
    this.#events.push(event);
    const target = this.#target;
    if (!target) {
      this.#record(event.id, 'no-target');
      return;
    }
    if (this.faults.dropWebhook()) {
      this.#record(event.id, 'lost');
      return;
    }
    const copies = this.faults.duplicateWebhook() ? 2 : 1;
    for (let copy = 1; copy <= copies; copy++) this.#start(event, target, copy);
  }

  /** Resolves once no delivery is pending (or after `timeoutMs`, rejecting). */
  idle(timeoutMs = 10_000): Promise<void> {
    if (this.#pending === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`webhook deliveries still pending after ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  stop(): void {
    this.#controller.abort();
    this.#agents.http.destroy();
    this.#agents.https?.destroy();
    for (const wake of this.#queued.splice(0)) wake();
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #start(event: WebhookEvent, target: WebhookTarget, copy: number): void {
    this.#pending++;
    void this.#deliver(event, target, copy).then(
      (outcome) => this.#finish(event.id, outcome),
      () => this.#finish(event.id, 'failed'),
    );
  }

  #finish(eventId: string, outcome: DeliveryOutcome): void {
    this.#record(eventId, outcome);
    this.#pending--;
    if (this.#pending === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const waiter of waiters) waiter();
    }
  }

  #record(eventId: string, outcome: DeliveryOutcome): void {
    this.#outcomes.set(eventId, [...(this.#outcomes.get(eventId) ?? []), outcome]);
  }

  async #deliver(event: WebhookEvent, target: WebhookTarget, copy: number): Promise<DeliveryOutcome> {
    const secrets = target.secrets ?? (target.secret !== undefined ? [target.secret] : []);
    if (secrets.length === 0) throw new Error('webhook target has no secret');
    const maxAttempts = target.maxAttempts ?? 6;
    const body = JSON.stringify(event);
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const wait =
        this.faults.webhookLatency() +
        (attempt === 1
          ? 0
          : Math.min(target.maxDelayMs ?? 30_000, (target.baseDelayMs ?? 200) * 2 ** (attempt - 2)));
      if (wait > 0 && !(await this.#sleep(wait))) return 'stopped';
      if (!(await this.#turn(target))) return 'stopped';
      const record: DeliveryAttempt = {
        eventId: event.id,
        eventType: event.type,
        attempt,
        copy,
        at: this.clock(),
      };
      try {
        record.status = await this.#post(
          target,
          {
            'content-type': 'application/json',
            'user-agent': 'Custompms-Webhooks/1.0 (reference server)',
            [SIGNATURE_HEADER]: signWebhookPayload(body, secrets, { now: this.clock }),
          },
          body,
        );
        this.#attempts.push(record);
        if (record.status >= 200 && record.status < 300) return 'delivered';
      } catch (error) {
        if (this.#controller.signal.aborted) return 'stopped';
        record.error = error instanceof Error ? error.message : String(error);
        this.#attempts.push(record);
      } finally {
        this.#inFlight--;
        this.#queued.shift()?.();
      }
    }
    return 'failed';
  }

  /**
   * One POST over a kept-alive connection (node:http: a burst's deliveries cost this process far
   * less than fetch's streams would, and this process also plays Salesforce in the benchmarks);
   * resolves with the status once the answer is read, rejects on a timeout, an error or a stop.
   */
  #post(target: WebhookTarget, headers: Record<string, string>, body: string): Promise<number> {
    const url = new URL(target.url);
    const secure = url.protocol === 'https:';
    const agent = secure ? (this.#agents.https ??= new https.Agent({ keepAlive: true })) : this.#agents.http;
    return new Promise((resolve, reject) => {
      const request = (secure ? https : http).request(
        url,
        {
          method: 'POST',
          agent,
          headers: { ...headers, 'content-length': Buffer.byteLength(body) },
          signal: this.#controller.signal,
          timeout: target.timeoutMs ?? 5_000,
        },
        (response) => {
          response.resume();
          response.once('end', () => resolve(response.statusCode ?? 0));
          response.once('error', reject);
        },
      );
      request.once('timeout', () => request.destroy(new Error('webhook delivery timed out')));
      request.once('error', reject);
      request.end(body);
    });
  }

  /** Waits for a free delivery slot and takes it; false if the dispatcher stopped first. */
  async #turn(target: WebhookTarget): Promise<boolean> {
    while (this.#inFlight >= (target.maxInFlight ?? 10)) {
      if (this.#controller.signal.aborted) return false;
      await new Promise<void>((resolve) => this.#queued.push(resolve));
    }
    if (this.#controller.signal.aborted) return false;
    this.#inFlight++;
    return true;
  }

  /** Resolves true after `ms`, false if the dispatcher stopped first. */
  #sleep(ms: number): Promise<boolean> {
    if (this.#controller.signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const signal = this.#controller.signal;
      const onAbort = () => {
        clearTimeout(timer);
        this.#timers.delete(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      }, ms);
      this.#timers.add(timer);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

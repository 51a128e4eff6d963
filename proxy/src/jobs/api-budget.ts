/**
 * The proxy's share of the org's daily API allowance (`SALESFORCE_API_BUDGET_PERCENT`): from the
 * usage Salesforce last reported (`Sforce-Limit-Info`, store/api-usage.ts), a state that slows
 * the Salesforce pollers (tight) and then defers them to a rare safety-net run (spent) before the
 * org's limit is reached. Change syncs are urgent work and are never held back by it.
 *
 * Salesforce reports the whole org's usage (every integration, every user), not the proxy's own:
 * comparing it with the share is conservative, the proxy yields first.
 */
import { TASK, type TaskName } from './task-names';

export type ApiBudgetState = 'ok' | 'tight' | 'spent';

export interface ApiBudget {
  /** `SALESFORCE_API_BUDGET_PERCENT`: the share of the daily allowance the proxy may use. */
  percent: number;
  state: ApiBudgetState;
  /** The org's daily usage and allowance as last reported; null before the first report. */
  used: number | null;
  limit: number | null;
  /** Requests of the allowance in the proxy's share (`limit × percent / 100`); null when unknown. */
  share: number | null;
}

/** `SALESFORCE_API_BUDGET_PERCENT`'s default: half, the rest left to the org's users and other integrations. */
export const DEFAULT_API_BUDGET_PERCENT = 50;
/** From this much of the share on, pollers slow down: the last fifth is kept for urgent work. */
export const API_BUDGET_TIGHT_AT = 0.8;
/** Tight: a Salesforce poller runs in one poll slot of this many (every 5th minute at 60 s polls). */
export const API_BUDGET_TIGHT_EVERY_SLOTS = 5;
/** Spent: a Salesforce poller still runs this often, the safety net for lost outbound messages (and
 * the usage is reported again, so the state can recover). */
export const API_BUDGET_SPENT_EVERY_MS = 30 * 60_000;

/** The pollers the budget holds back: those that spend the org's API calls. Change syncs are not. */
export const SALESFORCE_POLLERS: ReadonlySet<TaskName> = new Set<TaskName>([
  TASK.pollDivisions,
  TASK.pollDeletedTasks,
  TASK.pollTasks,
]);

/** The budget's state from the last reported usage; never reported (or no allowance known): ok. */
export function apiBudget(usage: { used: number; limit: number } | undefined, percent: number): ApiBudget {
  if (!usage || !(usage.limit > 0)) {
    return { percent, state: 'ok', used: usage?.used ?? null, limit: usage?.limit ?? null, share: null };
  }
  const share = Math.floor((usage.limit * percent) / 100);
  const state: ApiBudgetState =
    usage.used >= share ? 'spent' : usage.used >= share * API_BUDGET_TIGHT_AT ? 'tight' : 'ok';
  return { percent, state, used: usage.used, limit: usage.limit, share };
}

/**
 * Whether a Salesforce poller runs in this slot. Slots are the poll interval's (the cron's) periods:
 * the run's last time is written when it ends, so a slot count, not an exact gap, tells whether
 * the 5th slot since has come. Never run before: it runs.
 */
export function pollerDue(
  state: ApiBudgetState,
  lastRunAt: Date | null | undefined,
  now: Date,
  pollIntervalMs: number,
): boolean {
  if (state === 'ok' || !lastRunAt) return true;
  const interval = Math.max(60_000, pollIntervalMs);
  const slots = Math.floor(now.getTime() / interval) - Math.floor(lastRunAt.getTime() / interval);
  const every =
    state === 'tight' ? API_BUDGET_TIGHT_EVERY_SLOTS : Math.ceil(API_BUDGET_SPENT_EVERY_MS / interval);
  return slots >= every;
}

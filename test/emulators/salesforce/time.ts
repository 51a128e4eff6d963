/**
 * Time for the emulated org: an injectable clock, and Salesforce's wire formats for dates and
 * datetimes. REST answers datetimes as `2026-11-25T10:00:00.000+0000` (UTC, milliseconds, offset
 * without a colon) and dates as `2026-11-25` (REST API Developer Guide, "sObject Rows" examples:
 * `"CreatedDate" : "2012-10-04T15:43:57.000+0000"`). Salesforce stores datetimes to the second,
 * so stored values always end in `.000`.
 */

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private current = Date.UTC(2026, 10, 25, 10, 0, 0)) {}
  now(): number {
    return this.current;
  }
  set(ms: number): void {
    this.current = ms;
  }
  advance(ms: number): void {
    this.current += ms;
  }
}

/** Real time plus an offset tests move forward (timers keep running in real time). */
export class ShiftedClock implements Clock {
  private offset = 0;
  private frozenAt: number | null = null;
  now(): number {
    return this.frozenAt ?? Date.now() + this.offset;
  }
  advance(ms: number): void {
    if (this.frozenAt !== null) this.frozenAt += ms;
    else this.offset += ms;
  }
  /** Stops the clock until `resume` (edits meanwhile share one timestamp second). */
  freeze(): void {
    this.frozenAt ??= this.now();
  }
  /** Runs on from where it stopped. */
  resume(): void {
    if (this.frozenAt === null) return;
    this.offset = this.frozenAt - Date.now();
    this.frozenAt = null;
  }
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `2026-11-25T10:00:00.000+0000` */
export function formatDateTime(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}+0000`
  );
}

/** Dates are held as days since the epoch; `2026-11-25`. */
export function formatDate(epochDay: number): string {
  const d = new Date(epochDay * 86_400_000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** Truncates to whole seconds, as Salesforce stores datetimes. */
export function toStoredDateTime(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$/;

/** `YYYY-MM-DD` → epoch day, or undefined when it is not a real calendar date. */
export function parseDate(text: string): number | undefined {
  const m = DATE_RE.exec(text);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const check = new Date(ms);
  if (check.getUTCFullYear() !== y || check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d)
    return undefined;
  return Math.round(ms / 86_400_000);
}

/**
 * ISO 8601 datetime (`Z`, `+hh:mm`, `+hhmm`; no offset means UTC, as the REST API reads it) →
 * epoch ms, or undefined.
 */
export function parseDateTime(text: string): number | undefined {
  const m = DATETIME_RE.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined;
  const fraction = m[7] ? Number(`0.${m[7]}`) : 0;
  let ms = Date.UTC(y, mo - 1, d, h, mi, s) + Math.floor(fraction * 1000);
  const zone = m[8];
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetMinutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4));
    ms -= sign * offsetMinutes * 60_000;
  }
  const check = new Date(Date.UTC(y, mo - 1, d));
  if (check.getUTCDate() !== d) return undefined;
  return ms;
}

/** Epoch day of an instant (UTC). */
export function epochDayOf(ms: number): number {
  return Math.floor(ms / 86_400_000);
}

/**
 * The reference server's latency model, the Custompms side of the benchmarks' profiles (the
 * Salesforce emulator has its own, test/emulators/salesforce/latency.ts): a round trip on every
 * API request and a delay before each webhook delivery, on top of any `faults.latencyMs`. Zero by default (tests); `realistic` is documented in the README.
 */
export interface CustompmsLatencyProfile {
  name: string;
  /** Added to every API request (ms). */
  rttMs: number;
  /** Before each webhook delivery attempt (ms). */
  webhookDelayMs: number;
}

export type CustompmsLatencyProfileName = 'zero' | 'realistic';

export const CUSTOMPMS_LATENCY_PROFILES: Readonly<
  Record<CustompmsLatencyProfileName, CustompmsLatencyProfile>
> = {
  zero: { name: 'zero', rttMs: 0, webhookDelayMs: 0 },
  /** Custompms a region away from the proxy: 20 ms round trip, webhooks sent 100 ms after the change. */
  realistic: { name: 'realistic', rttMs: 20, webhookDelayMs: 100 },
};

export function custompmsLatencyProfile(
  profile: CustompmsLatencyProfile | CustompmsLatencyProfileName,
): CustompmsLatencyProfile {
  return typeof profile === 'string' ? CUSTOMPMS_LATENCY_PROFILES[profile] : profile;
}

/**
 * The Salesforce org emulator's public surface, for suites and benchmarks:
 * `startSalesforceEmulator(options)` → `{ url, orgId, clientId, clientSecret, tokenFor, apiUsage,
 * org, close }`; `org` carries the controls (setProxy, setOutboundEndpoint, publish, published,
 * onEvent, faults, limits, outbound, apex, settle, transaction, users, deploySource, deployFiles,
 * deploys, applyMetadata).
 */
export { startSalesforceEmulator, type EmulatorOptions, type SalesforceEmulator } from './server';
export {
  SalesforceOrg,
  defaultOrgOptions,
  DEFAULT_FORCE_APP,
  INTEGRATION_USERNAME_PLACEHOLDER,
  type OrgOptions,
  type OrgWarning,
  type RequestLogEntry,
} from './org';
export { ManualClock, ShiftedClock, systemClock, type Clock } from './time';
export type { FaultRule, FaultKind, RouteCategory } from './faults';
export type { ApiUsageSnapshot, LimitsOptions } from './limits';
export type { OutboundOptions, DeliveryAttempt, QueuedNotification } from './automation/outbound';
export { isAck, OUTBOUND_NS, SOBJECT_NS } from './automation/outbound';
export type { PublishedEvent } from './automation/event-bus';
export type { AsyncApexJob, CalloutRecord, DebugLine } from './apex/runtime';
export type { MetadataComponent, ApplyOutcome } from './schema/org-schema';
export type { PackageDeployOutcome } from './metadata/deploy';
export type { DeployMessage } from './metadata/package';
export { APEX_TESTS_UNAVAILABLE, type DeployJob } from './metadata/jobs';
export type { UserSpec } from './users';
export type { ConnectedApp } from './auth';

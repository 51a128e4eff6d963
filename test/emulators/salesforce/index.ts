/**
 * The Salesforce org emulator's public surface, for suites and benchmarks:
 * `startSalesforceEmulator(options)` → `{ url, orgId, clientId, clientSecret, tokenFor, apiUsage,
 * org, close }`; `org` carries the controls (setProxy, setOutboundEndpoint, publish, published,
 * onEvent, faults, limits, outbound, apex, settle, transaction, users, deploySource, deployFiles,
 * deploys, applyMetadata, setFlowDeployAsActive, activateFlow); users/profiles/roles and the
 * access they give are in security/.
 */
export { startSalesforceEmulator, type EmulatorOptions, type SalesforceEmulator } from './server';
export {
  SalesforceOrg,
  defaultOrgOptions,
  DEFAULT_FORCE_APP,
  INTEGRATION_USERNAME_PLACEHOLDER,
  type OrgOptions,
  type OrgType,
  type OrgWarning,
  type RequestLogEntry,
} from './org';
export { ManualClock, ShiftedClock, systemClock, type Clock } from './time';
export type { FaultRule, FaultKind, RouteCategory } from './faults';
export { LATENCY_PROFILES, latencyProfile, type LatencyProfile, type LatencyProfileName } from './latency';
export type { ApiUsageSnapshot, LimitsOptions } from './limits';
export type { OutboundOptions, DeliveryAttempt, QueuedNotification } from './automation/outbound';
export { isAck, OUTBOUND_NS, SOBJECT_NS } from './automation/outbound';
export type { PublishedEvent } from './automation/event-bus';
export type { AsyncApexJob, CalloutRecord, DebugLine, Finalizer, FinalizerContext } from './apex/runtime';
export { AccessLevel, HEAP_LIMIT, CPU_LIMIT_MS } from './apex/runtime';
export type { MetadataComponent, ApplyOutcome } from './schema/org-schema';
export type { PackageDeployOutcome } from './metadata/deploy';
export type { DeployMessage } from './metadata/package';
export { APEX_TESTS_UNAVAILABLE, NO_TEST_RUN_IN_PRODUCTION, type DeployJob } from './metadata/jobs';
export type { UserSpec, RoleSpec } from './users';
export {
  API_ONLY_INTEGRATIONS,
  EMULATOR_FULL_ACCESS,
  MINIMUM_ACCESS,
  STANDARD_USER,
  SYSTEM_ADMINISTRATOR,
  type ProfileDef,
} from './security/profiles';
export { USER_MODE, type UserAccess } from './security/access';
export type { ConnectedApp } from './auth';

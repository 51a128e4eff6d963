/**
 * Asynchronous deploys as the Metadata API runs them (Developer Guide, "deploy()",
 * "checkDeployStatus()", "cancelDeploy()", "deployRecentValidation()" and "DeployResult"):
 * a deploy is Pending (shown as Queued by clients) → InProgress → Succeeded/Failed, polled by id
 * (key prefix 0Af); a pending deploy can be canceled; a successful check-only deploy can be
 * deployed again by its id without re-validating ("quick deploy").
 *
 * Apex never runs in the emulator, so a deploy asking for tests (RunLocalTests,
 * RunSpecifiedTests, RunAllTestsInOrg) fails with a message saying so instead of inventing
 * results.
 */
import type { IdFactory } from '../ids';
import type { Clock } from '../time';
import type { PackageDeployOutcome } from './deploy';
import type { DeployMessage } from './package';

export const APEX_TESTS_UNAVAILABLE =
  'Apex tests cannot run in the Salesforce emulator, so this deploy was not applied. Run the tests against a real org: ' +
  '`npm run deploy:org -- --target-org <real org> --proxy-url <url> --integration-user <user> --test-level RunLocalTests` ' +
  '(or `sf apex run test --target-org <real org>`); deploy to the emulator with --test-level NoTestRun.';

export const TEST_LEVELS_RUNNING_TESTS = [
  'RunLocalTests',
  'RunSpecifiedTests',
  'RunAllTestsInOrg',
  'RunRelevantTests',
];

/**
 * The deploy rules of a production org (Metadata API Developer Guide, "Running Tests in a
 * Deployment" / "Run the Same Tests in Sandbox and Production Deployments"): "By default, no tests
 * are run in a deployment to a non-production organization … tests are executed by default in
 * production only if your deployment package contains Apex classes or triggers"; NoTestRun
 * "applies only to deployments to development environments" — a production org refuses it with
 * "INVALID_OPERATION: testLevel of NoTestRun cannot be used in production organizations" (the
 * answer orgs give, as reported in bitbucket.org/RoseSilverSoftware/illuminatedcloud issue 1357).
 * With "Deploy processes and flows as active" on, "deploying an active process or flow in a
 * production org causes your Apex tests to run" (Metadata API "FlowSettings").
 * Since Apex tests cannot run here, a production deploy that needs them fails honestly with
 * APEX_TESTS_UNAVAILABLE (a real org would require ≥ 75 % coverage: "Average test coverage across
 * all Apex Classes and Triggers is N%, at least 75% test coverage is required").
 */
export const NO_TEST_RUN_IN_PRODUCTION = 'testLevel of NoTestRun cannot be used in production organizations';

export class DeployRefused extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface OrgDeployRules {
  production: boolean;
  flowDeployAsActive: boolean;
}

/** Whether a package holds Apex, or a Flow deployed as Active. */
function packageNeedsTests(files: Map<string, string>, rules: OrgDeployRules): boolean {
  for (const [path, text] of files) {
    if (/(^|\/)(classes\/[^/]+\.cls|triggers\/[^/]+\.trigger)$/.test(path)) return true;
    if (
      rules.flowDeployAsActive &&
      /(^|\/)flows\/[^/]+\.flow$/.test(path) &&
      /<status>\s*Active\s*<\/status>/.test(text)
    )
      return true;
  }
  return false;
}

/**
 * Whether a deploy must run Apex tests in this org, or is refused outright (NoTestRun in
 * production). A quick deploy of a validation runs no tests again.
 */
export function deployTestRequirement(
  files: Map<string, string>,
  options: Pick<DeployRequestOptions, 'testLevel'>,
  rules: OrgDeployRules,
  quickDeploy = false,
): boolean {
  if (quickDeploy) return false;
  if (TEST_LEVELS_RUNNING_TESTS.includes(options.testLevel ?? '')) return true;
  if (!rules.production) return false;
  if (options.testLevel === 'NoTestRun')
    throw new DeployRefused('INVALID_OPERATION', NO_TEST_RUN_IN_PRODUCTION);
  return packageNeedsTests(files, rules);
}

export interface DeployRequestOptions {
  checkOnly: boolean;
  testLevel?: string;
  runTests: string[];
  rollbackOnError: boolean;
  ignoreWarnings: boolean;
  singlePackage: boolean;
}

export type DeployStatus = 'Pending' | 'InProgress' | 'Succeeded' | 'Failed' | 'Canceling' | 'Canceled';

export interface DeployJob {
  id: string;
  status: DeployStatus;
  options: DeployRequestOptions;
  createdBy: string;
  createdByName: string;
  createdDate: number;
  startDate?: number;
  completedDate?: number;
  messages: DeployMessage[];
  numberComponentsTotal: number;
  errorMessage?: string;
  errorStatusCode?: string;
  /** The package, kept for a quick deploy of a validation. */
  files: Map<string, string>;
  /** Set when this job is the quick deploy of a validation. */
  validatedDeployRequestId?: string;
}

/** The DeployResult fields, as `checkDeployStatus` reports them (undefined ones are left out). */
export function deployResult(job: DeployJob, includeDetails: boolean): Record<string, unknown> {
  const done = ['Succeeded', 'Failed', 'Canceled'].includes(job.status);
  const failures = job.messages.filter((m) => !m.success);
  const successes = job.messages.filter((m) => m.success);
  const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());
  const runsTests = TEST_LEVELS_RUNNING_TESTS.includes(job.options.testLevel ?? '');
  const result: Record<string, unknown> = {
    canceledBy: job.status === 'Canceled' ? job.createdBy : undefined,
    canceledByName: job.status === 'Canceled' ? job.createdByName : undefined,
    checkOnly: job.options.checkOnly,
    completedDate: iso(job.completedDate),
    createdBy: job.createdBy,
    createdByName: job.createdByName,
    createdDate: iso(job.createdDate),
    details: includeDetails ? { componentSuccesses: successes, componentFailures: failures } : undefined,
    done,
    errorMessage: job.errorMessage,
    errorStatusCode: job.errorStatusCode,
    id: job.id,
    ignoreWarnings: job.options.ignoreWarnings,
    lastModifiedDate: iso(job.completedDate ?? job.startDate ?? job.createdDate),
    numberComponentErrors: failures.length,
    numberComponentsDeployed: done ? successes.filter((m) => m.componentType !== '').length : 0,
    numberComponentsTotal: job.numberComponentsTotal,
    numberTestErrors: 0,
    numberTestsCompleted: 0,
    numberTestsTotal: 0,
    rollbackOnError: job.options.rollbackOnError,
    runTestsEnabled: runsTests,
    startDate: iso(job.startDate),
    stateDetail: job.status === 'InProgress' ? 'Processing Type: metadata' : undefined,
    status: job.status,
    success: job.status === 'Succeeded',
  };
  return Object.fromEntries(Object.entries(result).filter(([, v]) => v !== undefined));
}

export class DeployQueue {
  readonly jobs = new Map<string, DeployJob>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly ids: IdFactory,
    private readonly clock: Clock,
    private readonly run: (files: Map<string, string>, checkOnly: boolean) => PackageDeployOutcome,
    /** Real time between the states, so a poller sees Pending and InProgress. */
    private readonly stepMs = 150,
    private readonly rules: () => OrgDeployRules = () => ({ production: false, flowDeployAsActive: true }),
  ) {}

  /** Queues a deploy; it runs on a timer, as the org's deploy queue does. */
  start(
    files: Map<string, string>,
    options: DeployRequestOptions,
    user: { id: string; name: string },
    validatedDeployRequestId?: string,
  ): DeployJob {
    // Refused before it is queued (the deploy call itself fails), e.g. NoTestRun in production.
    deployTestRequirement(files, options, this.rules(), validatedDeployRequestId !== undefined);
    const job: DeployJob = {
      id: this.ids.next('0Af'),
      status: 'Pending',
      options,
      createdBy: user.id,
      createdByName: user.name,
      createdDate: this.clock.now(),
      messages: [],
      numberComponentsTotal: 0,
      files,
      validatedDeployRequestId,
    };
    this.jobs.set(job.id, job);
    this.later(() => {
      if (job.status !== 'Pending') return;
      job.status = 'InProgress';
      job.startDate = this.clock.now();
      this.later(() => this.finish(job));
    });
    return job;
  }

  private later(fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, this.stepMs);
    timer.unref();
    this.timers.add(timer);
  }

  private finish(job: DeployJob): void {
    if (job.status === 'Canceling') {
      job.status = 'Canceled';
      job.completedDate = this.clock.now();
      return;
    }
    const testsRequested = deployTestRequirement(
      job.files,
      job.options,
      this.rules(),
      job.validatedDeployRequestId !== undefined,
    );
    // Validate first either way, so a test-level deploy still reports component problems; a
    // deploy that needs tests is never applied.
    const outcome = this.run(job.files, job.options.checkOnly || testsRequested);
    job.messages = outcome.messages;
    job.numberComponentsTotal = outcome.messages.filter((m) => m.componentType !== '').length;
    if (outcome.success && testsRequested) {
      job.status = 'Failed';
      job.errorStatusCode = 'UNSUPPORTED_APEX_TEST_RUN';
      job.errorMessage = APEX_TESTS_UNAVAILABLE;
    } else {
      job.status = outcome.success ? 'Succeeded' : 'Failed';
    }
    job.completedDate = this.clock.now();
  }

  /** cancelDeploy: a deploy not finished yet is canceled; a finished one is left as it is. */
  cancel(id: string): DeployJob | undefined {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    if (job.status === 'Pending') {
      job.status = 'Canceled';
      job.completedDate = this.clock.now();
    } else if (job.status === 'InProgress') {
      job.status = 'Canceling';
    }
    return job;
  }

  /** A validation that may be quick-deployed: a check-only deploy that succeeded. */
  validation(id: string): DeployJob | undefined {
    const job = this.jobs.get(id);
    return job && job.options.checkOnly && job.status === 'Succeeded' ? job : undefined;
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}

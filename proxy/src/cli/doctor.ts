/** `custompms-sync doctor`: the checklist of cli/doctor-checks.ts, with the fix for each failure. */
import { ConfigError } from '../config';
import { formatDoctorReport, runDoctor, type DoctorReport } from './doctor-checks';
import {
  commandLogger,
  EXIT,
  loadCommandConfig,
  parseCommand,
  positiveInteger,
  progressWriter,
  withDatabase,
  writeResult,
  type CliIo,
} from './common';

export const DOCTOR_USAGE = `Usage: custompms-sync doctor [--json] [--timeout SECONDS] [--skip CHECK]...

Checks a live configuration end to end and prints a checklist with the fix for each failure:
database and migrations, every part configured, the proxy reachable at PUBLIC_URL, Salesforce
authentication, org id, API version, the sync fields and permission set, the Flow active, the
outbound-message endpoint, the Named Credential round trip (publishes one Custompms_Change__e for
a ping batch and waits for the org's Apex to fetch it), the daily API allowance, Custompms
reachability and webhook registration. Exit 0 when no check failed (warnings and skips allowed),
1 when one did. An invalid configuration is reported as the failing "configuration" check.

  --json            print {"ok", "checks": [{id, title, status, detail, fix}]} on stdout
  --timeout SECONDS how long the round trip waits for the org (default 60)
  --skip CHECK      do not run a check (by id, e.g. salesforce.named_credential); repeatable
  -h, --help`;

export async function doctorCommand(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(args, {
    options: {
      json: { type: 'boolean', default: false },
      timeout: { type: 'string' },
      skip: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    io.stdout.write(`${DOCTOR_USAGE}\n`);
    return EXIT.ok;
  }
  const timeoutSeconds = positiveInteger('--timeout', values.timeout) ?? 60;
  let report: DoctorReport;
  try {
    const config = loadCommandConfig(io);
    const logger = commandLogger(config.logLevel === 'info' ? 'error' : config.logLevel, 'doctor');
    report = await withDatabase(config, logger, (database) =>
      runDoctor({
        config,
        pool: database.pool,
        logger,
        roundTripTimeoutMs: timeoutSeconds * 1000,
        skip: values.skip ?? [],
        onProgress: progressWriter(io),
      }),
    );
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    report = {
      ok: false,
      checks: error.problems.map((problem) => ({
        id: 'configuration',
        title: `Configuration: ${problem.variable}`,
        status: 'fail' as const,
        detail: `${problem.variable} ${problem.message}`,
        fix: `correct ${problem.variable} (heroku config:set ${problem.variable}=…; README "Configuration")`,
        ms: 0,
      })),
    };
  }
  writeResult(io, values.json, report, () => formatDoctorReport(report));
  return report.ok ? EXIT.ok : EXIT.failed;
}

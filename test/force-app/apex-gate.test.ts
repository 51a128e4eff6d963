/**
 * The offline Apex gate (scripts/apex-gate.ts) inside `npm test`: force-app must pass apex-ls and
 * PMD, and a deliberately bad fixture (test/fixtures/apex) must be rejected for each of its
 * problems, so an upgrade that loses a check is noticed. One gate run covers both (the fixture is
 * an extra package folder of the same workspace), and each tool's findings are asserted apart, so
 * one failing never hides the other.
 *
 * Needs Java 11+. Without it the suite fails when CI=true and is skipped with a warning otherwise.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  JAVA_INSTALL_HINT,
  checkJava,
  formatFinding,
  gatePassed,
  objectsNeedingStubs,
  runApexLs,
  runGate,
  runTestRules,
  type ApexFinding,
  type GateReport,
} from '../../scripts/apex-gate';
import { forceApp, projectRoot } from './support';

const fixtureDir = path.join(projectRoot, 'test', 'fixtures', 'apex');
const fixtureFile = path.join(fixtureDir, 'classes', 'CustompmsBadSync.cls');
const badTestsFile = path.join(fixtureDir, 'classes', 'CustompmsBadTests.cls');
const java = checkJava();
const ci = process.env.CI === 'true';
const withJava = java.ok || ci ? it : it.skip;

if (!java.ok && !ci) {
  console.warn(`Apex gate skipped: ${java.reason}. ${JAVA_INSTALL_HINT}`);
}

/** 1-based line of the first fixture line containing `marker`. */
function fixtureLine(marker: string, file = fixtureFile): number {
  const index = readFileSync(file, 'utf8')
    .split('\n')
    .findIndex((line) => line.includes(marker) && !line.trim().startsWith('*'));
  if (index < 0) throw new Error(`Fixture has no line with ${marker}`);
  return index + 1;
}

function lines(findings: readonly ApexFinding[]): string[] {
  return findings.map((finding) => formatFinding(finding, projectRoot));
}

const inForceApp = (finding: ApexFinding): boolean => finding.file.startsWith(forceApp + path.sep);
const inFixture = (finding: ApexFinding): boolean =>
  finding.file === fixtureFile || finding.file === badTestsFile;

describe('offline Apex gate', () => {
  let report: GateReport;
  let withoutStub: ApexFinding[];

  beforeAll(async () => {
    if (!java.ok) {
      if (ci) throw new Error(`Apex gate: ${java.reason}. ${JAVA_INSTALL_HINT} (failing because CI=true)`);
      return;
    }
    [report, withoutStub] = await Promise.all([
      runGate({ projectRoot, extraPackageDirs: [fixtureDir] }),
      runApexLs({ projectRoot, extraPackageDirs: [fixtureDir], withoutActivityStub: true }),
    ]);
  }, 180_000);

  withJava('both tools ran', () => {
    expect({ apexLs: report.apexLs.error, pmd: report.pmd.error, testRules: report.testRules.error }).toEqual(
      {
        apexLs: undefined,
        pmd: undefined,
        testRules: undefined,
      },
    );
  });

  withJava('force-app passes the apex-ls semantic check', () => {
    expect(lines(report.apexLs.findings.filter(inForceApp))).toEqual([]);
  });

  withJava('force-app passes PMD pmd:Recommended at Moderate and above', () => {
    expect(lines(report.pmd.findings.filter(inForceApp))).toEqual([]);
  });

  withJava('reports nothing outside force-app and the fixture', () => {
    const elsewhere = [
      ...report.apexLs.findings,
      ...report.pmd.findings,
      ...report.testRules.findings,
    ].filter((finding) => !inForceApp(finding) && !inFixture(finding));
    expect(lines(elsewhere)).toEqual([]);
  });

  withJava.each([
    [
      'an unknown field on Task',
      'apex-ls',
      'No_Such_Field__c',
      /Unknown field 'No_Such_Field__c' on SObject 'Schema.Task'/,
    ],
    ['an undefined method', 'apex-ls', 'fetchEverything', /No matching method found for 'fetchEverything'/],
    ['SOQL in a loop', 'pmd', 'SELECT Subject FROM Task', /^OperationWithLimitsInLoop: /],
    ['string-built dynamic SOQL', 'pmd', 'Database.query(', /^ApexSOQLInjection: /],
  ])('rejects %s in the fixture, at its line', (_problem, tool, marker, pattern) => {
    const findings = (tool === 'pmd' ? report.pmd : report.apexLs).findings.filter(
      (finding) => finding.file === fixtureFile,
    );
    const line = fixtureLine(marker);
    const matching = findings.filter(
      (finding) =>
        finding.line === line &&
        pattern.test(tool === 'pmd' ? `${finding.rule}: ${finding.message}` : finding.message),
    );
    expect({ line, found: lines(matching).length > 0, all: lines(findings) }).toEqual({
      line,
      found: true,
      all: lines(findings),
    });
    expect(gatePassed(report)).toBe(false);
  });

  withJava('needs the Task stub: without it apex-ls accepts the unknown Task field (its blind spot)', () => {
    const messages = withoutStub.filter(inFixture).map((finding) => finding.message);
    expect(messages.some((message) => message.includes('fetchEverything'))).toBe(true);
    expect(messages.some((message) => message.includes('No_Such_Field__c'))).toBe(false);
  });
});

describe('gate helpers', () => {
  it('stubs Task and Event for a project that extends Activity, and nothing otherwise', () => {
    expect(objectsNeedingStubs([forceApp])).toEqual(['Task', 'Event']);
    expect(objectsNeedingStubs([fixtureDir])).toEqual([]);
  });

  it('reports a missing java clearly', () => {
    const missing = checkJava('/nonexistent/java');
    expect(missing.ok).toBe(false);
    expect(!missing.ok && missing.reason).toMatch(/not found/);
  });

  it('formats findings with file, line and column', () => {
    const finding: ApexFinding = {
      tool: 'pmd',
      file: fixtureFile,
      line: 31,
      column: 25,
      rule: 'OperationWithLimitsInLoop',
      severity: 'Moderate',
      message: 'Avoid operations in loops',
    };
    expect(formatFinding(finding, projectRoot)).toBe(
      'test/fixtures/apex/classes/CustompmsBadSync.cls:31:25 pmd/OperationWithLimitsInLoop (Moderate) Avoid operations in loops',
    );
  });

  it('passes only when every tool ran without findings', () => {
    const clean = { findings: [], durationMs: 1 };
    expect(gatePassed({ apexLs: clean, pmd: clean, testRules: clean, durationMs: 1 })).toBe(true);
    expect(
      gatePassed({ apexLs: { ...clean, error: 'crashed' }, pmd: clean, testRules: clean, durationMs: 1 }),
    ).toBe(false);
    const finding: ApexFinding = {
      tool: 'test-rules',
      file: badTestsFile,
      line: 1,
      column: 1,
      rule: 'ProfileByName',
      severity: 'High',
      message: 'x',
    };
    expect(
      gatePassed({
        apexLs: clean,
        pmd: clean,
        testRules: { findings: [finding], durationMs: 1 },
        durationMs: 1,
      }),
    ).toBe(false);
  });
});

/** The test rules are static (no Java): they run everywhere. */
describe('test rules', () => {
  const findings = runTestRules({ projectRoot, extraPackageDirs: [fixtureDir] });

  it('force-app passes: every trigger-path test mocks its callouts before Test.stopTest, no profile by name', () => {
    expect(lines(findings.filter(inForceApp))).toEqual([]);
  });

  it.each([
    [
      'a trigger-path test without Test.setMock',
      'TestWithoutCalloutMock',
      'static void deletesWithoutCalloutMock',
      /fires CustompmsTaskTrigger, whose path enqueues a callout Queueable/,
    ],
    [
      'a test that sets the mock only after Test.stopTest',
      'TestWithoutCalloutMock',
      'static void publishesWithTheMockTooLate',
      /fires CustompmsChangeTrigger/,
    ],
    [
      'a profile found by its name',
      'ProfileByName',
      "WHERE Name = 'Standard User'",
      /translated in non-English orgs/,
    ],
  ])('rejects %s in the fixture, at its line', (_problem, rule, marker, pattern) => {
    const line = fixtureLine(marker, badTestsFile);
    const matching = findings.filter(
      (finding) =>
        finding.file === badTestsFile &&
        finding.rule === rule &&
        finding.line === line &&
        pattern.test(finding.message),
    );
    expect({ line, found: matching.length }).toEqual({ line, found: 1 });
  });

  it('reports exactly the fixture problems, nothing else', () => {
    expect(findings.filter((finding) => finding.file === badTestsFile)).toHaveLength(3);
    expect(findings.filter((finding) => !inForceApp(finding) && finding.file !== badTestsFile)).toEqual([]);
  });
});

/**
 * Offline checks of the Apex source: it parses, every class has its tests, triggers stay one
 * line, public code carries ApexDoc, and the house rules hold (user-mode data access, callouts
 * only through the Named Credential, no test branches in production code). Semantic analysis and
 * PMD run in apex-gate.test.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { apexSyntaxErrors, listFiles, metadataDir, projectRoot } from './support';

const sourceApiVersion = (
  JSON.parse(readFileSync(path.join(projectRoot, 'sfdx-project.json'), 'utf8')) as {
    sourceApiVersion: string;
  }
).sourceApiVersion;

const apexFiles = listFiles(metadataDir).filter((file) => /\.(cls|trigger)$/.test(file));
const classFiles = apexFiles.filter((file) => file.endsWith('.cls'));
const triggerFiles = apexFiles.filter((file) => file.endsWith('.trigger'));

interface ApexClass {
  name: string;
  file: string;
  source: string;
  isTest: boolean;
  /** An @IsTest class without test methods: a factory or a mock. */
  isTestSupport: boolean;
}

const classes: ApexClass[] = classFiles.map((file) => {
  const source = readFileSync(file, 'utf8');
  const isTest =
    /@IsTest\s+(?:(?:public|private|global)\s+)?(?:(?:with|without|inherited)\s+sharing\s+)?class\s/i.test(
      source,
    );
  const hasTestMethods = /@IsTest\s+(?:(?:public|private)\s+)?static\s+void/i.test(source);
  return {
    name: path.basename(file, '.cls'),
    file,
    source,
    isTest,
    isTestSupport: isTest && !hasTestMethods,
  };
});
const productionClasses = classes.filter((apex) => !apex.isTest);

/** Source without comments and string literals, so rules match code only. */
function codeOnly(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, ' '))
    .replace(/\/\/.*$/gm, '')
    .replace(/'(?:\\.|[^'\\])*'/g, "''");
}

function relative(file: string): string {
  return path.relative(projectRoot, file);
}

describe('Apex source', () => {
  it('has the classes and triggers of the contract', () => {
    expect(productionClasses.map((apex) => apex.name).sort()).toEqual(
      expect.arrayContaining([
        'CustompmsDeletionJob',
        'CustompmsProxyClient',
        'CustompmsProxyException',
        'CustompmsPullJob',
        'CustompmsTaskTriggerHandler',
      ]),
    );
    expect(triggerFiles.map((file) => path.basename(file, '.trigger')).sort()).toEqual([
      'CustompmsChangeTrigger',
      'CustompmsTaskDeletionTrigger',
      'CustompmsTaskTrigger',
    ]);
  });

  it('the syntax check itself reports a broken file', () => {
    expect(apexSyntaxErrors('public class Broken { void f() { Integer x = ; } }', 'class')).not.toEqual([]);
    expect(apexSyntaxErrors('trigger T on Task (after delete) { run( }', 'trigger')).not.toEqual([]);
  });

  it.each(apexFiles.map((file) => [relative(file), file]))('%s parses without errors', (_name, file) => {
    const kind = file.endsWith('.trigger') ? 'trigger' : 'class';
    expect(apexSyntaxErrors(readFileSync(file, 'utf8'), kind)).toEqual([]);
  });

  it.each(apexFiles.map((file) => [relative(file), file]))(
    '%s has its meta file on the project API version, Active',
    (_name, file) => {
      const meta = `${file}-meta.xml`;
      expect(existsSync(meta)).toBe(true);
      const parsed = new XMLParser({ parseTagValue: false }).parse(readFileSync(meta, 'utf8')) as Record<
        string,
        { apiVersion: string; status: string }
      >;
      const root = parsed[file.endsWith('.trigger') ? 'ApexTrigger' : 'ApexClass']!;
      expect(root.apiVersion).toBe(sourceApiVersion);
      expect(root.status).toBe('Active');
    },
  );

  it('every production class has a <Class>_Tests test class', () => {
    const missing = productionClasses
      .map((apex) => `${apex.name}_Tests`)
      .filter(
        (testName) => !classes.some((apex) => apex.name === testName && apex.isTest && !apex.isTestSupport),
      );
    expect(missing).toEqual([]);
  });

  it('test classes are named <Class>_Tests (or are test support without test methods)', () => {
    const misnamed = classes
      .filter((apex) => apex.isTest && !apex.isTestSupport && !apex.name.endsWith('_Tests'))
      .map((apex) => apex.name);
    expect(misnamed).toEqual([]);
  });

  it('every test method asserts, with a message', () => {
    const offenders: string[] = [];
    for (const apex of classes.filter((c) => c.isTest && !c.isTestSupport)) {
      const methods = apex.source.split(/@IsTest\s+static\s+void\s+/i).slice(1);
      for (const method of methods) {
        const name = method.slice(0, method.indexOf('('));
        const body = method.split(/\n {2}@IsTest/i)[0]!;
        if (!/Assert\.\w+\(/.test(body)) offenders.push(`${apex.name}.${name}: no assert`);
        // Assert.fail('message') is the one-argument form; every other assert ends with a message.
        const silent = [
          ...body.matchAll(/Assert\.(areEqual|areNotEqual|isTrue|isFalse|isNull|isNotNull)\(/g),
        ].filter((match) => {
          const call = body.slice(match.index);
          let depth = 0;
          let end = 0;
          for (let i = call.indexOf('('); i < call.length; i++) {
            if (call[i] === '(') depth++;
            if (call[i] === ')' && --depth === 0) {
              end = i;
              break;
            }
          }
          return !/,\s*(?:'(?:\\.|[^'\\])*'|[^,]*\+[^,]*)\s*\)$/s.test(call.slice(0, end + 1));
        });
        if (silent.length > 0) offenders.push(`${apex.name}.${name}: assert without message`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('triggers are one statement that hands over to Apex classes', () => {
    for (const file of triggerFiles) {
      const source = codeOnly(readFileSync(file, 'utf8'));
      const body = source.slice(source.indexOf('{') + 1, source.lastIndexOf('}')).trim();
      expect({
        file: relative(file),
        statements: body.split(';').filter((part) => part.trim()).length,
      }).toEqual({
        file: relative(file),
        statements: 1,
      });
      expect(body).not.toMatch(/\b(if|for|while|insert|update|delete|SELECT)\b/i);
    }
  });

  it('every class and every public method or constructor has ApexDoc', () => {
    const missing: string[] = [];
    for (const apex of classes.filter((c) => !c.isTest || c.isTestSupport)) {
      const lines = apex.source.split('\n');
      lines.forEach((line, index) => {
        const declaration =
          /^\s*(?:global|public)\s+(?:(?:static|virtual|abstract|override|with sharing|without sharing|inherited sharing)\s+)*(?:class|interface|enum)\s/.test(
            line,
          ) ||
          (/^\s*(?:global|public)\s[^=;]*\(/.test(line) && !/^\s*(?:global|public)\s[^(]*=/.test(line));
        if (!declaration) return;
        let previous = index - 1;
        while (previous >= 0 && (/^\s*@/.test(lines[previous]!) || lines[previous]!.trim() === ''))
          previous--;
        if (previous < 0 || !lines[previous]!.trim().endsWith('*/')) {
          missing.push(`${apex.name}.cls:${index + 1}: ${line.trim()}`);
        }
      });
      if (
        !/^\/\*\*[\s\S]*?@description[\s\S]*?\*\/\s*(?:@\w+(?:\([^)]*\))?\s*)*(?:global|public|private)/.test(
          apex.source,
        )
      ) {
        missing.push(`${apex.name}.cls: class ApexDoc with @description`);
      }
    }
    expect(missing).toEqual([]);
  });

  describe.each(productionClasses.map((apex) => [apex.name, apex]))('%s', (_name, apex) => {
    const code = codeOnly(apex.source);

    // The one exception: CustompmsRecordWriter's inner SystemModeDml, the reviewed system-mode writer that
    // lets a Task reassigned to a user the integration user cannot see still sync (see its ApexDoc).
    const systemModeDml = /private without sharing class SystemModeDml \{[\s\S]*?\n {2}\}\n/;
    const withoutSystemModeDml =
      apex.name === 'CustompmsRecordWriter' ? code.replace(systemModeDml, '') : code;

    it('declares its sharing, never without sharing (but for the reviewed system-mode writer)', () => {
      expect(code).toMatch(/\b(with|inherited) sharing\s+(?:virtual\s+|abstract\s+)?class\b/i);
      expect(withoutSystemModeDml).not.toMatch(/without sharing/i);
    });

    it('has no Test.isRunningTest() branch', () => {
      expect(code).not.toMatch(/Test\s*\.\s*isRunningTest/i);
    });

    it('queries and writes in user mode, system mode only in the reviewed writer', () => {
      for (const query of withoutSystemModeDml.match(/\[\s*SELECT[\s\S]*?\]/gi) ?? []) {
        expect(query).toMatch(/WITH\s+USER_MODE/i);
      }
      for (const call of withoutSystemModeDml.match(
        /Database\s*\.\s*(insert|update|upsert|delete|query)\s*\([^;]*;/gi,
      ) ?? []) {
        expect(call).toMatch(/AccessLevel\.USER_MODE/);
      }
      expect(code).not.toMatch(/^\s*(insert|update|upsert|delete|undelete)\s+[\w.]+\s*;/im);
      if (apex.name === 'CustompmsRecordWriter') {
        const writer = systemModeDml.exec(code)?.[0] ?? '';
        expect(writer.match(/AccessLevel\.SYSTEM_MODE/g)).toHaveLength(3);
        // Every record reaching it was checked against the reviewed field list.
        expect(code).toMatch(/if \(!mayWrite\(type, describe\)\)/);
      }
    });

    it('calls out only through the Named Credential', () => {
      for (const endpoint of apex.source.match(/setEndpoint\([^;]*;/g) ?? []) {
        expect(endpoint).toMatch(/'callout:'/);
      }
      expect(apex.source).not.toMatch(/https?:\/\//);
    });
  });
});

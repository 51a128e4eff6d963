/**
 * The SOQL subset, tested on the org directly: tokenizer and parser errors, filter semantics
 * (case-insensitive strings, nulls, LIKE, IN, dates and date literals, ids of 15 or 18
 * characters), ordering and paging; and a property check of WHERE against a plain filter.
 */
import fc from 'fast-check';
import { parseJsonRecord, type StoredRecord } from './data/values';
import { startSalesforceEmulator } from './index';
import { SalesforceOrg } from './org';
import { SoqlError } from './soql/lexer';
import { compileQuery, executeQuery, likeRegex } from './soql/executor';
import { parseSoql } from './soql/parser';
import { ManualClock, formatDate } from './time';

describe('SOQL subset', () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 25, 12, 0, 0));
  const org = new SalesforceOrg({ clock });

  const insert = (records: Record<string, unknown>[]): string[] =>
    org
      .transaction(org.adminUserId, (tx) =>
        tx.insert(
          'Task',
          records.map((r) => parseJsonRecord(org.schema.object('Task')!, r)),
        ),
      )
      .map((r) => r.id!);
  const run = (soql: string, all = false): StoredRecord[] =>
    executeQuery(compileQuery(soql, org.schema, org.db, clock.now()), org.db, all);
  const subjects = (soql: string): string[] => run(soql).map((r) => String(r.Subject));
  const failure = (soql: string): SoqlError => {
    try {
      run(soql);
    } catch (error) {
      if (error instanceof SoqlError) return error;
      throw error;
    }
    throw new Error(`expected ${soql} to fail`);
  };

  const ids = insert([
    { Subject: 'Alpha', Priority: 'High', ActivityDate: '2026-11-25', Description: 'x' },
    { Subject: 'beta', Priority: 'Low', ActivityDate: '2026-11-20' },
    { Subject: 'Gamma_1', Priority: 'Normal' },
    { Subject: "O'Brien", Priority: 'High', ActivityDate: '2025-01-01' },
  ]);

  afterAll(async () => {
    await org.stop();
  });

  it('parses the grammar and rejects what SOQL rejects', () => {
    expect(
      parseSoql(
        "select Id, Owner.Email from Task where (Subject = 'a' or Subject = 'b') and not IsClosed = true order by Subject desc nulls first limit 5 offset 1",
      ),
    ).toMatchObject({
      fields: [{ parts: ['Id'] }, { parts: ['Owner', 'Email'] }],
      object: 'Task',
      orderBy: [{ descending: true, nullsLast: false }],
      limit: 5,
      offset: 1,
    });
    expect(
      failure("SELECT Id FROM Task WHERE Subject = 'a' AND Priority = 'b' OR IsClosed = true").errorCode,
    ).toBe('MALFORMED_QUERY');
    expect(failure('SELECT Id FROM Task WHERE').errorCode).toBe('MALFORMED_QUERY');
    expect(failure("SELECT Id FROM Task WHERE Subject = 'open").errorCode).toBe('MALFORMED_QUERY');
    expect(failure('SELECT Id, Id FROM Task').message).toContain('duplicate field selected: Id');
    expect(failure('SELECT Id FROM Task WHERE Subject = :name').message).toContain('Bind variables');
    expect(failure('SELECT Id FROM Task OFFSET 2001').errorCode).toBe('NUMBER_OUTSIDE_VALID_RANGE');
    expect(failure('SELECT Id FROM Task WHERE Description = null').message).toContain(
      "field 'Description' can not be filtered",
    );
    expect(failure("SELECT Id FROM Task WHERE IsClosed = 'true'").errorCode).toBe(
      'INVALID_QUERY_FILTER_OPERATOR',
    );
    expect(failure("SELECT Id FROM Task WHERE Id = 'nope'").message).toContain('invalid ID field: nope');
    expect(failure('SELECT Who.Name.Foo FROM Task').errorCode).toBe('MALFORMED_QUERY');
    const located = failure('SELECT Id FROM Task\nWHERE Subjekt = 1');
    expect(located.errorCode).toBe('INVALID_FIELD');
    expect(located.message).toBe(
      "\nWHERE Subjekt = 1\n      ^\nERROR at Row:2:Column:7\nNo such column 'Subjekt' on entity 'Task'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
    );
  });

  it('compares strings case-insensitively, escapes quotes, and treats null as SOQL does', () => {
    expect(subjects("SELECT Subject FROM Task WHERE Subject = 'ALPHA'")).toEqual(['Alpha']);
    expect(subjects("SELECT Subject FROM Task WHERE Subject = 'O\\'Brien'")).toEqual(["O'Brien"]);
    expect(subjects("SELECT Subject FROM Task WHERE Subject LIKE 'gamma\\_%'")).toEqual(['Gamma_1']);
    expect(subjects("SELECT Subject FROM Task WHERE Subject LIKE '%a' ORDER BY Subject")).toEqual([
      'Alpha',
      'beta',
    ]);
    expect(subjects('SELECT Subject FROM Task WHERE ActivityDate = null')).toEqual(['Gamma_1']);
    expect(subjects('SELECT Subject FROM Task WHERE ActivityDate != 2026-11-25 ORDER BY Subject')).toEqual([
      'beta',
      'Gamma_1',
      "O'Brien",
    ]);
    expect(subjects("SELECT Subject FROM Task WHERE Priority NOT IN ('High') ORDER BY Subject")).toEqual([
      'beta',
      'Gamma_1',
    ]);
    expect(subjects("SELECT Subject FROM Task WHERE NOT (Priority = 'High' OR Priority = 'Low')")).toEqual([
      'Gamma_1',
    ]);
  });

  it('evaluates dates, datetimes and date literals in UTC', () => {
    expect(subjects('SELECT Subject FROM Task WHERE ActivityDate = TODAY')).toEqual(['Alpha']);
    expect(subjects('SELECT Subject FROM Task WHERE ActivityDate = LAST_N_DAYS:7 ORDER BY Subject')).toEqual([
      'Alpha',
      'beta',
    ]);
    expect(subjects('SELECT Subject FROM Task WHERE ActivityDate < THIS_YEAR')).toEqual(["O'Brien"]);
    expect(run('SELECT Id FROM Task WHERE CreatedDate = TODAY')).toHaveLength(4);
    expect(run('SELECT Id FROM Task WHERE CreatedDate > 2026-11-25T11:59:59Z')).toHaveLength(4);
    expect(run('SELECT Id FROM Task WHERE CreatedDate >= 2026-11-25T13:00:00+01:00')).toHaveLength(4);
    expect(run('SELECT Id FROM Task WHERE CreatedDate >= 2026-11-25T12:00:01.000Z')).toHaveLength(0);
    expect(run('SELECT Id FROM Task WHERE CreatedDate > 2026-11-25T11:59:59.9999999Z')).toHaveLength(4);
    // SOQL wants `Z` or `+hh:mm`; the REST answer format `+0000` is not a SOQL literal.
    expect(failure('SELECT Id FROM Task WHERE CreatedDate > 2026-11-25T11:59:59.000+0000').errorCode).toBe(
      'MALFORMED_QUERY',
    );
    expect(failure('SELECT Id FROM Task WHERE CreatedDate > 2026-11-25').errorCode).toBe(
      'INVALID_QUERY_FILTER_OPERATOR',
    );
    expect(formatDate(19_000)).toBe('2022-01-08');
  });

  it('matches ids in 15- and 18-character form, follows Owner, orders with nulls, pages with OFFSET', () => {
    const id15 = ids[1]!.slice(0, 15);
    expect(
      subjects(`SELECT Subject FROM Task WHERE Id IN ('${id15}', '${ids[0]!}') ORDER BY Subject`),
    ).toEqual(['Alpha', 'beta']);
    expect(run("SELECT Id FROM Task WHERE Owner.Email = 'admin@custompms.example'")).toHaveLength(4);
    expect(subjects('SELECT Subject FROM Task ORDER BY ActivityDate NULLS LAST, Subject')).toEqual([
      "O'Brien",
      'beta',
      'Alpha',
      'Gamma_1',
    ]);
    expect(subjects('SELECT Subject FROM Task ORDER BY ActivityDate DESC')).toEqual([
      'Alpha',
      'beta',
      "O'Brien",
      'Gamma_1',
    ]);
    expect(subjects('SELECT Subject FROM Task ORDER BY Subject LIMIT 2 OFFSET 1')).toEqual([
      'beta',
      'Gamma_1',
    ]);
    const compiled = compileQuery('SELECT COUNT() FROM Task', org.schema, org.db, clock.now());
    expect(compiled.count).toBe(true);
  });

  it('hides deleted records from query and shows them to queryAll', () => {
    const [doomed] = insert([{ Subject: 'Doomed' }]);
    org.transaction(org.adminUserId, (tx) => tx.delete([doomed!]));
    expect(subjects("SELECT Subject FROM Task WHERE Subject = 'Doomed'")).toEqual([]);
    expect(run(`SELECT Subject FROM Task WHERE Id = '${doomed!}'`, true)).toHaveLength(1);
  });

  it('drops archived activities from query but not from queryAll', () => {
    const [old] = insert([{ Subject: 'Ancient', Status: 'Completed', ActivityDate: '2024-01-05' }]);
    insert([{ Subject: 'Ancient but open', ActivityDate: '2024-01-05' }]);
    expect(org.archiveActivities()).toBe(1);
    expect(subjects("SELECT Subject FROM Task WHERE Subject LIKE 'Ancient%'")).toEqual(['Ancient but open']);
    expect(run(`SELECT Id FROM Task WHERE Id = '${old!}'`, true)).toEqual([
      expect.objectContaining({ IsArchived: true }),
    ]);
  });

  it('LIKE turns % and _ into wildcards and keeps escaped ones literal', () => {
    expect(likeRegex('a\\%b%').test('a%bzzz')).toBe(true);
    expect(likeRegex('a\\%b%').test('axbzzz')).toBe(false);
    expect(likeRegex('a_c').test('ABC')).toBe(true);
    expect(likeRegex('(x)').test('(X)')).toBe(true);
  });

  it('filters like a plain reference implementation (property)', () => {
    const priorities = ['High', 'Normal', 'Low'];
    const local = new SalesforceOrg({ clock });
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            p: fc.constantFrom(...priorities),
            day: fc.option(fc.integer({ min: 1, max: 28 }), { nil: null }),
          }),
          {
            maxLength: 25,
          },
        ),
        fc.constantFrom(...priorities),
        fc.integer({ min: 1, max: 28 }),
        fc.constantFrom('<', '<=', '>', '>=', '=', '!='),
        (rows, priority, day, op) => {
          const tag = `p${Math.random().toString(36).slice(2)}`;
          local.transaction(local.adminUserId, (tx) =>
            tx.insert(
              'Task',
              rows.map((r) =>
                parseJsonRecord(local.schema.object('Task')!, {
                  Subject: tag,
                  Priority: r.p,
                  ActivityDate: r.day === null ? null : `2026-03-${String(r.day).padStart(2, '0')}`,
                }),
              ),
            ),
          );
          const literal = `2026-03-${String(day).padStart(2, '0')}`;
          const got = executeQuery(
            compileQuery(
              `SELECT Id FROM Task WHERE Subject = '${tag}' AND (Priority = '${priority}' OR ActivityDate ${op} ${literal})`,
              local.schema,
              local.db,
              clock.now(),
            ),
            local.db,
            false,
          ).length;
          const cmp = (d: number | null): boolean => {
            if (d === null) return op === '!=';
            return {
              '<': d < day,
              '<=': d <= day,
              '>': d > day,
              '>=': d >= day,
              '=': d === day,
              '!=': d !== day,
            }[op];
          };
          const expected = rows.filter((r) => r.p === priority || cmp(r.day)).length;
          return got === expected;
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('queryAll on an indexed field', () => {
  it('finds a deleted record by its external id, as Salesforce does', async () => {
    const emulator = await startSalesforceEmulator({ deployForceApp: true });
    try {
      const { org } = emulator;
      const task = org.schema.object('Task')!;
      const [created] = org.transaction(org.adminUserId, (tx) =>
        tx.insert('Task', [parseJsonRecord(task, { Subject: 'Gone', Custompms_Id__c: 'tsk_gone' })]),
      );
      org.transaction(org.adminUserId, (tx) => tx.delete([created!.id!]));
      const soql = "SELECT Id, IsDeleted FROM Task WHERE Custompms_Id__c IN ('tsk_gone')";
      const compiled = () => compileQuery(soql, org.schema, org.db, Date.now());
      // Custompms_Id__c is an indexed external id: the index holds live records only.
      expect(executeQuery(compiled(), org.db, false)).toEqual([]);
      expect(executeQuery(compiled(), org.db, true)).toEqual([
        expect.objectContaining({ Id: created!.id, IsDeleted: true }),
      ]);
    } finally {
      await emulator.close();
    }
  });
});

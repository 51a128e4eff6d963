/**
 * The Apex runtime's platform rules the transliterations run under (apex/runtime.ts, sources
 * cited there): the asynchronous heap (12 MB) and CPU (60 s) limits end the transaction with an
 * uncatchable System.LimitException; Transaction Finalizers run after a Queueable, succeeded or
 * failed, with the ParentJobResult and the exception; Named Credential callouts need access to the
 * External Credential principal and to User External Credentials (Read for a named principal;
 * Read/Create/Edit/Delete plus the user's own stored credential for a per-user principal).
 */
import { startReceiver, type Receiver } from './helpers';
import {
  AccessLevel,
  CalloutException,
  type Apex,
  type Finalizer,
  type FinalizerContext,
  type Queueable,
} from './apex/runtime';
import { startSalesforceEmulator, type SalesforceEmulator } from './server';
import { STANDARD_USER } from './security/profiles';

const MB = 1024 * 1024;

class Job implements Queueable {
  readonly apexClass = 'TestJob';
  constructor(private readonly body: (apex: Apex) => Promise<void> | void) {}
  execute(apex: Apex): Promise<void> | void {
    return this.body(apex);
  }
}

class RecordingFinalizer implements Finalizer {
  readonly apexClass = 'TestFinalizer';
  readonly seen: { result: string; exception: string | null; jobId: string }[] = [];
  constructor(private readonly then?: (apex: Apex) => void) {}
  finalize(apex: Apex, context: FinalizerContext): void {
    const exception = context.getException();
    this.seen.push({
      result: context.getResult(),
      exception: exception ? `${exception.apexType}: ${exception.message}` : null,
      jobId: context.getAsyncApexJobId(),
    });
    this.then?.(apex);
  }
}

describe('Apex runtime: async limits, finalizers, credential access', () => {
  let sf: SalesforceEmulator;
  let cpu = 0;

  /** Enqueues a job from a committed transaction as the admin and waits for every job to finish. */
  const runJob = async (body: (apex: Apex) => Promise<void> | void): Promise<string> => {
    let id = '';
    await sf.org.apex.runTrigger('Enqueuer', sf.org.runAs(sf.org.adminUserId), (apex) => {
      id = apex.System.enqueueJob(new Job(body));
    });
    await sf.org.settle();
    return id;
  };
  const job = (id: string) => sf.org.apex.jobs.find((j) => j.Id === id)!;
  const insertTask = (apex: Apex, subject: string) =>
    apex.Database.insert([apex.newSObject('Task', { Subject: subject })], true, AccessLevel.SYSTEM_MODE);
  const taskExists = (subject: string) =>
    [...sf.org.db.table('Task').rows.values()].some((r) => r.Subject === subject);

  beforeAll(async () => {
    sf = await startSalesforceEmulator({
      apex: { msPerDelayMinute: 1, jobStartDelayMs: 0, triggers: 'deployed', cpuClock: () => cpu },
    });
  });

  afterAll(async () => {
    await sf.close();
  });

  it('fails a Queueable that holds more than 12 MB of heap, even when its code catches the exception', async () => {
    const under = await runJob((apex) => {
      apex.Limits.hold('body', 'x'.repeat(11 * MB));
      expect(apex.Limits.getLimitHeapSize()).toBe(12 * MB);
    });
    expect(job(under).Status).toBe('Completed');
    const over = await runJob((apex) => {
      insertTask(apex, 'before the heap blew');
      try {
        apex.Limits.hold('body', 'x'.repeat(11 * MB));
        apex.Limits.hold('records', 'y'.repeat(2 * MB));
      } catch {
        // Apex cannot catch a LimitException: swallowing it changes nothing.
      }
      insertTask(apex, 'after the heap blew');
    });
    expect(job(over)).toMatchObject({
      Status: 'Failed',
      ExtendedStatus: expect.stringMatching(/^System\.LimitException: Apex heap size too large: \d+$/),
    });
    expect(taskExists('before the heap blew')).toBe(false);
    expect(taskExists('after the heap blew')).toBe(false);
  });

  it('fails a Queueable past 60 s of CPU time, even when its code catches the exception', async () => {
    const within = await runJob((apex) => {
      cpu += 59_000;
      apex.Limits.check();
      expect(apex.Limits.getLimitCpuTime()).toBe(60_000);
    });
    expect(job(within).Status).toBe('Completed');
    const over = await runJob((apex) => {
      cpu += 61_000;
      try {
        insertTask(apex, 'too slow');
      } catch {
        // uncatchable
      }
    });
    expect(job(over)).toMatchObject({
      Status: 'Failed',
      ExtendedStatus: 'System.LimitException: Apex CPU time limit exceeded',
    });
    expect(taskExists('too slow')).toBe(false);
  });

  it('runs a finalizer after a failed Queueable with UNHANDLED_EXCEPTION and the exception, in its own transaction', async () => {
    const finalizer = new RecordingFinalizer((apex) => insertTask(apex, 'written by the finalizer'));
    const id = await runJob((apex) => {
      apex.System.attachFinalizer(finalizer);
      insertTask(apex, 'rolled back with the job');
      throw new CalloutException('Read timed out');
    });
    expect(job(id).Status).toBe('Failed');
    expect(finalizer.seen).toEqual([
      { result: 'UNHANDLED_EXCEPTION', exception: 'System.CalloutException: Read timed out', jobId: id },
    ]);
    expect(taskExists('rolled back with the job')).toBe(false);
    expect(taskExists('written by the finalizer')).toBe(true);
  });

  it('runs it with SUCCESS after a good job, and after a LimitException with that exception', async () => {
    const good = new RecordingFinalizer();
    const ok = await runJob((apex) => apex.System.attachFinalizer(good));
    expect(good.seen).toEqual([{ result: 'SUCCESS', exception: null, jobId: ok }]);
    const limited = new RecordingFinalizer();
    await runJob((apex) => {
      apex.System.attachFinalizer(limited);
      try {
        apex.Limits.hold('big', 'z'.repeat(13 * MB));
      } catch {
        // uncatchable
      }
    });
    expect(limited.seen[0]).toMatchObject({
      result: 'UNHANDLED_EXCEPTION',
      exception: expect.stringMatching(/^System\.LimitException: Apex heap size too large/),
    });
  });

  it('allows one finalizer per Queueable, none outside one, and one job enqueued by a finalizer', async () => {
    const errors: string[] = [];
    await runJob((apex) => {
      apex.System.attachFinalizer(new RecordingFinalizer());
      try {
        apex.System.attachFinalizer(new RecordingFinalizer());
      } catch (error) {
        errors.push((error as Error).name);
      }
    });
    await expect(
      sf.org.apex.runTrigger('NotQueueable', sf.org.runAs(sf.org.adminUserId), (apex) =>
        apex.System.attachFinalizer(new RecordingFinalizer()),
      ),
    ).rejects.toThrow('Finalizers can only be attached to Queueable jobs');
    const retried: string[] = [];
    const second: string[] = [];
    await runJob((apex) => {
      apex.System.attachFinalizer(
        new RecordingFinalizer((inner) => {
          retried.push(inner.System.enqueueJob(new Job(() => undefined)));
          try {
            inner.System.enqueueJob(new Job(() => undefined));
          } catch (error) {
            second.push((error as Error).name);
          }
        }),
      );
      throw new Error('fail once');
    });
    expect(errors).toEqual(['System.AsyncException']);
    expect(retried).toHaveLength(1);
    expect(job(retried[0]!).Status).toBe('Completed');
    expect(second).toEqual(['System.LimitException']);
  });

  describe('Named Credential callouts and credential access', () => {
    let receiver: Receiver;
    const deploy = (files: Record<string, string>): void => {
      const types = new Map<string, string[]>();
      for (const path of Object.keys(files)) {
        const [folder, file] = path.split('/') as [string, string];
        const type = {
          externalCredentials: 'ExternalCredential',
          namedCredentials: 'NamedCredential',
          permissionsets: 'PermissionSet',
        }[folder]!;
        types.set(type, [...(types.get(type) ?? []), file.replace(/\.[^.]+$/, '')]);
      }
      const pkg =
        '<?xml version="1.0" encoding="UTF-8"?><Package xmlns="http://soap.sforce.com/2006/04/metadata">' +
        [...types]
          .map(
            ([t, ms]) =>
              `<types>${ms.map((m) => `<members>${m}</members>`).join('')}<name>${t}</name></types>`,
          )
          .join('') +
        '<version>65.0</version></Package>';
      const outcome = sf.org.deployFiles(new Map([['package.xml', pkg], ...Object.entries(files)]), {
        checkOnly: false,
      });
      expect(outcome.messages.filter((m) => !m.success)).toEqual([]);
    };
    const md = (root: string, body: string) =>
      `<?xml version="1.0" encoding="UTF-8"?><${root} xmlns="http://soap.sforce.com/2006/04/metadata">${body}</${root}>`;
    const externalCredential = (name: string, principalType: string) =>
      md(
        'ExternalCredential',
        `<authenticationProtocol>Custom</authenticationProtocol>` +
          `<externalCredentialParameters><parameterName>Main</parameterName><parameterType>${principalType}</parameterType><sequenceNumber>1</sequenceNumber></externalCredentialParameters>` +
          `<externalCredentialParameters><parameterName>Authorization</parameterName><parameterType>AuthHeader</parameterType>` +
          `<parameterValue>{!&apos;Bearer &apos; &amp; $Credential.${name}.ApiKey}</parameterValue><sequenceNumber>1</sequenceNumber></externalCredentialParameters>` +
          `<label>${name}</label>`,
      );
    const namedCredential = (name: string, url: string) =>
      md(
        'NamedCredential',
        `<allowMergeFieldsInBody>false</allowMergeFieldsInBody><allowMergeFieldsInHeader>false</allowMergeFieldsInHeader>` +
          `<generateAuthorizationHeader>false</generateAuthorizationHeader><label>${name}</label>` +
          `<namedCredentialParameters><parameterName>Url</parameterName><parameterType>Url</parameterType><parameterValue>${url}</parameterValue></namedCredentialParameters>` +
          `<namedCredentialParameters><externalCredential>${name}</externalCredential><parameterName>ExternalCredential</parameterName><parameterType>Authentication</parameterType></namedCredentialParameters>` +
          `<namedCredentialType>SecuredEndpoint</namedCredentialType>`,
      );
    const permissionSet = (credential: string, uec: string) =>
      md(
        'PermissionSet',
        `<externalCredentialPrincipalAccesses><enabled>true</enabled><externalCredentialPrincipal>${credential}-Main</externalCredentialPrincipal></externalCredentialPrincipalAccesses>` +
          '<hasActivationRequired>false</hasActivationRequired><label>x</label>' +
          (uec
            ? `<objectPermissions>${uec}<modifyAllRecords>false</modifyAllRecords><object>UserExternalCredential</object><viewAllRecords>false</viewAllRecords></objectPermissions>`
            : ''),
      );
    const READ =
      '<allowCreate>false</allowCreate><allowDelete>false</allowDelete><allowEdit>false</allowEdit><allowRead>true</allowRead>';
    const CRED =
      '<allowCreate>true</allowCreate><allowDelete>true</allowDelete><allowEdit>true</allowEdit><allowRead>true</allowRead>';

    const userWith = (name: string, permissionSets: string[]): string =>
      sf.org.users.create({
        username: `${name}@callout.test`,
        email: `${name}@callout.test`,
        lastName: name,
        profile: 'Salesforce API Only System Integrations',
        permissionSets,
      }).Id as string;
    const callAs = async (userId: string, credential: string): Promise<string> => {
      let outcome = '';
      await sf.org.apex.runTrigger('Caller', sf.org.runAs(userId), async (apex) => {
        try {
          const response = await apex.Http.send({
            endpoint: `callout:${credential}/ping`,
            method: 'GET',
            headers: {},
            timeoutMs: 5_000,
          });
          outcome = `HTTP ${response.statusCode}`;
        } catch (error) {
          outcome = (error as Error).name;
        }
      });
      return outcome;
    };

    beforeAll(async () => {
      receiver = await startReceiver();
      deploy({
        'externalCredentials/Named_Cred.externalCredential': externalCredential(
          'Named_Cred',
          'NamedPrincipal',
        ),
        'namedCredentials/Named_Cred.namedCredential': namedCredential('Named_Cred', receiver.url),
        'externalCredentials/Per_User.externalCredential': externalCredential('Per_User', 'PerUserPrincipal'),
        'namedCredentials/Per_User.namedCredential': namedCredential('Per_User', receiver.url),
        'permissionsets/Named_Principal_Only.permissionset': permissionSet('Named_Cred', ''),
        'permissionsets/Named_Principal_Read.permissionset': permissionSet('Named_Cred', READ),
        'permissionsets/Per_User_Read.permissionset': permissionSet('Per_User', READ),
        'permissionsets/Per_User_Full.permissionset': permissionSet('Per_User', CRED),
      });
      sf.org.apex.setCredentialParameter('Named_Cred', 'ApiKey', 'org-wide-key');
    });

    afterAll(async () => {
      await receiver.close();
    });

    it('needs the principal and Read on User External Credentials for a named principal', async () => {
      expect(await callAs(userWith('nothing', []), 'Named_Cred')).toBe('System.CalloutException');
      expect(await callAs(userWith('principal', ['Named_Principal_Only']), 'Named_Cred')).toBe(
        'System.CalloutException',
      );
      expect(await callAs(userWith('reader', ['Named_Principal_Read']), 'Named_Cred')).toBe('HTTP 200');
      expect(receiver.requests.at(-1)!.headers.authorization).toBe('Bearer org-wide-key');
    });

    it("needs full User External Credential access and the user's own credential for a per-user principal", async () => {
      const readOnly = userWith('per-read', ['Per_User_Read']);
      sf.org.apex.setUserCredential('Per_User', 'Main', readOnly, { ApiKey: 'mine' });
      expect(await callAs(readOnly, 'Per_User')).toBe('System.CalloutException');
      const full = userWith('per-full', ['Per_User_Full']);
      expect(await callAs(full, 'Per_User')).toBe('System.CalloutException');
      sf.org.apex.setUserCredential('Per_User', 'Main', full, { ApiKey: 'per-user-key' });
      expect(await callAs(full, 'Per_User')).toBe('HTTP 200');
      expect(receiver.requests.at(-1)!.headers.authorization).toBe('Bearer per-user-key');
      // A standard user without the principal gets nothing either.
      const standard = sf.org.users.create({
        username: 'std@callout.test',
        email: 'std@callout.test',
        lastName: 'Std',
        profile: STANDARD_USER,
      }).Id as string;
      expect(await callAs(standard, 'Per_User')).toBe('System.CalloutException');
    });
  });
});

/**
 * Offline checks of the declarative metadata: every file resolves and converts with
 * source-deploy-retrieve, every XML file is well formed, the layout rules of SALESFORCE.md and
 * the names of notes/CONTRACT.md hold, and no secret is in the source.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ComponentSet, MetadataConverter, type SourceComponent } from '@salesforce/source-deploy-retrieve';
import { XMLValidator } from 'fast-xml-parser';
import { TASK_FIELDS } from '../../proxy/src/jobs/salesforce-changes';
import { forceApp, listFiles, metadataDir, projectRoot, readMetadata, readXml } from './support';

type Xml = Record<string, unknown>;
const asArray = (value: unknown): Xml[] => (value === undefined ? [] : (value as Xml[]));
const text = (value: unknown): string => (typeof value === 'string' ? value : '');

function componentFiles(component: SourceComponent): string[] {
  const own = [component.xml, ...(component.content ? component.walkContent() : [])].filter(
    (file): file is string => typeof file === 'string',
  );
  return [...own, ...component.getChildren().flatMap(componentFiles)];
}

describe('source-deploy-retrieve', () => {
  const components = ComponentSet.fromSource(forceApp);
  const sourceComponents = components.getSourceComponents().toArray();

  it('resolves every file under force-app to a component', () => {
    const resolved = new Set(sourceComponents.flatMap(componentFiles));
    const unresolved = listFiles(forceApp).filter((file) => !resolved.has(file));
    expect(unresolved.map((file) => path.relative(projectRoot, file))).toEqual([]);
  });

  it('has the components of the contract', () => {
    const names = new Set(
      [...components].map(
        (member) => `${typeof member.type === 'string' ? member.type : member.type.name}:${member.fullName}`,
      ),
    );
    for (const expected of [
      'CustomField:Activity.Custompms_Id__c',
      'CustomField:Activity.Custompms_Type__c',
      'CustomField:Activity.Custompms_Project_Id__c',
      'CustomField:Activity.Custompms_Sync_Status__c',
      'CustomField:Activity.Custompms_Sync_Error__c',
      'CustomField:Activity.Custompms_Last_Synced__c',
      'CustomObject:Custompms_Change__e',
      'CustomObject:Custompms_Task_Deletion__e',
      'CustomObject:Custompms_Field_Map__mdt',
      'CustomObject:Custompms_Sync_Setting__mdt',
      'CustomPermission:Custompms_Sync_Bypass',
      'PermissionSet:Custompms_Integration',
      'PermissionSet:Custompms_Admin',
      'ExternalCredential:Custompms_Proxy',
      'NamedCredential:Custompms_Proxy',
      'Workflow:Task',
      'Flow:Custompms_Task_Outbound_Message',
      'ApexTrigger:CustompmsTaskTrigger',
      'ApexTrigger:CustompmsChangeTrigger',
      'ApexTrigger:CustompmsTaskDeletionTrigger',
      'PlatformEventSubscriberConfig:CustompmsChangeTriggerConfig',
      'PlatformEventSubscriberConfig:CustompmsTaskDeletionTriggerConfig',
    ]) {
      expect(names).toContain(expected);
    }
  });

  it('converts to metadata format with a package.xml', async () => {
    const output = mkdtempSync(path.join(tmpdir(), 'force-app-mdapi-'));
    try {
      const result = await new MetadataConverter().convert(components, 'metadata', {
        type: 'directory',
        outputDirectory: output,
        genUniqueDir: false,
      });
      const packageXml = readFileSync(path.join(result.packagePath!, 'package.xml'), 'utf8');
      for (const type of [
        'ApexClass',
        'ApexTrigger',
        'CustomObject',
        'Flow',
        'Workflow',
        'PermissionSet',
        'CustomMetadata',
      ]) {
        expect(packageXml).toContain(`<name>${type}</name>`);
      }
      expect(readFileSync(path.join(result.packagePath!, 'objects', 'Activity.object'), 'utf8')).toContain(
        '<fullName>Custompms_Id__c</fullName>',
      );
    } finally {
      rmSync(output, { recursive: true, force: true });
    }
  });
});

describe('XML', () => {
  const xmlFiles = listFiles(forceApp).filter((file) => file.endsWith('.xml'));

  it.each(xmlFiles.map((file) => [path.relative(forceApp, file), file]))(
    '%s is well formed',
    (_name, file) => {
      const content = readFileSync(file, 'utf8');
      expect(XMLValidator.validate(content)).toBe(true);
      expect(content).not.toMatch(/<!DOCTYPE/i);
    },
  );

  it('keeps every text value on one line (a wrapped value would reach Salesforce with its line breaks)', () => {
    const wrapped = xmlFiles.filter((file) =>
      />[^<>]*\n[^<>]*[^\s<>][^<>]*</.test(readFileSync(file, 'utf8')),
    );
    expect(wrapped.map((file) => path.relative(forceApp, file))).toEqual([]);
  });
});

describe('layout', () => {
  it('puts Task fields on Activity and has no Division folder (Task holds only list views)', () => {
    const files = listFiles(path.join(metadataDir, 'objects')).map((file) =>
      path.relative(path.join(metadataDir, 'objects'), file).split(path.sep),
    );
    // Fields on Task are fields on Activity; a Task list view can only live under Task.
    expect(files.filter(([object]) => object === 'Task').map((parts) => parts[1])).toEqual(['listViews']);
    expect(new Set(files.map(([object]) => object))).toEqual(
      new Set([
        'Activity',
        'Task',
        'Custompms_Change__e',
        'Custompms_Task_Deletion__e',
        'Custompms_Field_Map__mdt',
        'Custompms_Sync_Setting__mdt',
      ]),
    );
  });

  it('defines the Activity fields of the contract', () => {
    const field = (name: string): Xml => readXml(`objects/Activity/fields/${name}.field-meta.xml`);
    expect(field('Custompms_Id__c')).toMatchObject({
      type: 'Text',
      length: '64',
      externalId: 'true',
      unique: 'true',
      caseSensitive: 'false',
    });
    expect(field('Custompms_Project_Id__c')).toMatchObject({ type: 'Text', length: '64' });
    expect(field('Custompms_Sync_Error__c')).toMatchObject({ type: 'Text', length: '255' });
    expect(field('Custompms_Last_Synced__c')).toMatchObject({ type: 'DateTime' });
    const picklist = (name: string): { restricted: string; values: string[] } => {
      const valueSet = field(name).valueSet as Xml;
      const definition = valueSet.valueSetDefinition as Xml;
      return {
        restricted: text(valueSet.restricted),
        values: asArray(definition.value).map((value) => text(value.fullName)),
      };
    };
    expect(picklist('Custompms_Type__c')).toEqual({ restricted: 'true', values: ['Project', 'Task'] });
    expect(picklist('Custompms_Sync_Status__c')).toEqual({
      restricted: 'true',
      values: ['Synced', 'Pending', 'Error'],
    });
  });

  it.each([
    [
      'Custompms_Change__e',
      { Batch_Id__c: ['Text', '64', 'true'], Record_Count__c: ['Number', undefined, 'false'] },
    ],
    [
      'Custompms_Task_Deletion__e',
      {
        Task_Id__c: ['Text', '18', 'true'],
        Custompms_Id__c: ['Text', '64', 'false'],
        Operation__c: ['Text', '16', 'true'],
      },
    ],
  ])('platform event %s is high volume, published after commit, with its fields', (name, fields) => {
    expect(readXml(`objects/${name}/${name}.object-meta.xml`)).toMatchObject({
      eventType: 'HighVolume',
      publishBehavior: 'PublishAfterCommit',
      deploymentStatus: 'Deployed',
    });
    const files = listFiles(path.join(metadataDir, 'objects', name, 'fields')).map((file) =>
      path.basename(file, '.field-meta.xml'),
    );
    expect(files.sort()).toEqual(Object.keys(fields).sort());
    for (const [field, [type, length, required]] of Object.entries(fields)) {
      const xml = readXml(`objects/${name}/fields/${field}.field-meta.xml`);
      expect([xml.type, xml.length, xml.required]).toEqual([type, length, required]);
    }
    if (name === 'Custompms_Change__e') {
      expect(readXml(`objects/${name}/fields/Record_Count__c.field-meta.xml`)).toMatchObject({
        precision: '5',
        scale: '0',
      });
    }
  });

  it('sends the outbound message with the fields the proxy needs, to a placeholder endpoint', () => {
    const messages = asArray(readXml('workflows/Task.workflow-meta.xml').outboundMessages);
    expect(messages).toHaveLength(1);
    const message = messages[0]!;
    expect(message.fullName).toBe('Custompms_Task_Changed');
    expect(message.endpointUrl).toBe(
      'https://proxy.invalid/salesforce/v1/outbound-messages/REPLACE_WITH_TOKEN',
    );
    expect(message.includeSessionId).toBe('false');
    // Exactly the fields the proxy reads from a notification (and from a Task it queries).
    expect((message.fields as string[]).slice().sort()).toEqual([...TASK_FIELDS].sort());
  });

  it('sends it from an after-save Flow on Task, only for synced Tasks, and never for the bypass', () => {
    const flow = readXml('flows/Custompms_Task_Outbound_Message.flow-meta.xml');
    expect(flow).toMatchObject({ processType: 'AutoLaunchedFlow', status: 'Active' });
    const start = flow.start as Xml;
    expect(start).toMatchObject({
      object: 'Task',
      triggerType: 'RecordAfterSave',
      recordTriggerType: 'CreateAndUpdate',
    });
    expect(asArray(start.filters)).toEqual([
      { field: 'Custompms_Type__c', operator: 'IsNull', value: [{ booleanValue: 'false' }] },
    ]);
    const [action] = asArray(flow.actionCalls);
    expect(action).toMatchObject({
      actionType: 'outboundMessage',
      actionName: 'Task.Custompms_Task_Changed',
    });
    const [decision] = asArray(flow.decisions);
    // The start goes to the bypass check; only its default path (no bypass) reaches the action.
    expect((start.connector as Xml).targetReference).toBe(decision!.name);
    expect((decision!.defaultConnector as Xml).targetReference).toBe(action!.name);
    const [rule] = asArray(decision!.rules);
    expect(rule!.connector).toBeUndefined();
    expect(asArray(rule!.conditions)).toEqual([
      {
        leftValueReference: '$Permission.Custompms_Sync_Bypass',
        operator: 'EqualTo',
        rightValue: { booleanValue: 'true' },
      },
    ]);
  });

  it('authenticates through an External Credential whose secret is set in Setup', () => {
    const credential = readXml('externalCredentials/Custompms_Proxy.externalCredential-meta.xml');
    expect(credential.authenticationProtocol).toBe('Custom');
    const parameters = asArray(credential.externalCredentialParameters);
    expect(parameters.find((p) => p.parameterType === 'NamedPrincipal')?.parameterName).toBe(
      'Custompms_Proxy_Principal',
    );
    expect(parameters.find((p) => p.parameterType === 'AuthHeader')).toMatchObject({
      parameterName: 'Authorization',
      parameterValue: "{!'Bearer ' & $Credential.Custompms_Proxy.ApiKey}",
    });
    // Nothing but the principal and the header formula: no stored parameter values.
    expect(parameters.map((p) => p.parameterType).sort()).toEqual(['AuthHeader', 'NamedPrincipal']);

    const named = readXml('namedCredentials/Custompms_Proxy.namedCredential-meta.xml');
    expect(named.namedCredentialType).toBe('SecuredEndpoint');
    expect(named.allowMergeFieldsInBody).toBe('false');
    const namedParameters = asArray(named.namedCredentialParameters);
    expect(namedParameters.find((p) => p.parameterType === 'Url')?.parameterValue).toBe(
      'https://proxy.invalid',
    );
    expect(namedParameters.find((p) => p.parameterType === 'Authentication')?.externalCredential).toBe(
      'Custompms_Proxy',
    );
  });

  it('grants the integration user what it needs, and admins no bypass', () => {
    // Field permissions name Activity fields through Task (the platform mirrors them to Event).
    const activityFields = listFiles(path.join(metadataDir, 'objects', 'Activity', 'fields')).map(
      (file) => `Task.${path.basename(file, '.field-meta.xml')}`,
    );
    const integration = readXml('permissionsets/Custompms_Integration.permissionset-meta.xml');
    expect(asArray(integration.customPermissions)).toEqual([
      { enabled: 'true', name: 'Custompms_Sync_Bypass' },
    ]);
    expect(asArray(integration.externalCredentialPrincipalAccesses)).toEqual([
      { enabled: 'true', externalCredentialPrincipal: 'Custompms_Proxy-Custompms_Proxy_Principal' },
    ]);
    const editable = asArray(integration.fieldPermissions)
      .filter((p) => p.editable === 'true' && p.readable === 'true')
      .map((p) => p.field);
    // The standard Task fields the outbound message carries and the sync writes that take field
    // permissions (nillable ones; required fields such as Status, Priority and OwnerId cannot).
    expect(editable.sort()).toEqual(
      [...activityFields, 'Task.ActivityDate', 'Task.Description', 'Task.Subject'].sort(),
    );
    expect(asArray(integration.objectPermissions)).toEqual([
      expect.objectContaining({ object: 'Custompms_Change__e', allowCreate: 'true', allowRead: 'true' }),
      // Callouts through a named credential need read access to User External Credentials.
      expect.objectContaining({
        object: 'UserExternalCredential',
        allowRead: 'true',
        allowCreate: 'false',
        allowEdit: 'false',
        allowDelete: 'false',
        modifyAllRecords: 'false',
      }),
    ]);
    // Record access is the admin's grant (README): never shipped.
    expect(
      asArray(integration.userPermissions)
        .map((p) => p.name)
        .sort(),
    ).toEqual(['ApiEnabled', 'EditTask']);

    const admin = readXml('permissionsets/Custompms_Admin.permissionset-meta.xml');
    expect(admin.customPermissions).toBeUndefined();
    expect(
      asArray(admin.fieldPermissions)
        .map((p) => p.field)
        .sort(),
    ).toEqual(activityFields.sort());
    const adminEditable = asArray(admin.fieldPermissions)
      .filter((p) => p.editable === 'true')
      .map((p) => p.field);
    expect(adminEditable).not.toContain('Task.Custompms_Id__c');
    for (const permissionSet of [integration, admin]) {
      expect(
        asArray(permissionSet.customMetadataTypeAccesses)
          .map((a) => a.name)
          .sort(),
      ).toEqual(['Custompms_Field_Map__mdt', 'Custompms_Sync_Setting__mdt']);
    }
  });

  it('runs each event trigger as the integration user, a placeholder the deploy script replaces', () => {
    for (const trigger of ['CustompmsChangeTrigger', 'CustompmsTaskDeletionTrigger']) {
      const config = readXml(
        `platformEventSubscriberConfigs/${trigger}Config.platformEventSubscriberConfig-meta.xml`,
      );
      expect(config).toMatchObject({
        platformEventConsumer: trigger,
        user: 'replace-with-integration-username@custompms.invalid',
      });
      const batchSize = Number(config.batchSize);
      expect(batchSize).toBeGreaterThan(0);
      expect(batchSize).toBeLessThanOrEqual(2000);
    }
  });

  it('declares the bypass custom permission', () => {
    expect(readXml('customPermissions/Custompms_Sync_Bypass.customPermission-meta.xml')).toMatchObject({
      label: 'Custompms Sync Bypass',
      isLicensed: 'false',
    });
  });
});

describe('no secrets in the source', () => {
  const files = listFiles(forceApp);

  it.each([
    ['a bearer token', /Bearer\s+[A-Za-z0-9._~+/-]{16,}/],
    ['a private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
    ['a password element', /<password>|<(?:client|consumer)Secret>/i],
    ['an outbound token', /outbound-messages\/(?!REPLACE_WITH_TOKEN)[A-Za-z0-9_-]{8,}/],
    [
      'a session id or API key value',
      /\b(?:00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]{20,}|sk_(?:live|test)_[A-Za-z0-9]{8,})/,
    ],
  ])('contains no %s', (_what, pattern) => {
    const hits = files.filter((file) => pattern.test(readFileSync(file, 'utf8')));
    expect(hits.map((file) => path.relative(projectRoot, file))).toEqual([]);
  });

  it('keeps the only credential parameter value a formula over $Credential', () => {
    const values = [
      ...readMetadata('externalCredentials/Custompms_Proxy.externalCredential-meta.xml').matchAll(
        /<parameterValue>([^<]*)<\/parameterValue>/g,
      ),
    ].map((match) => match[1]);
    expect(values).toEqual(['{!&apos;Bearer &apos; &amp; $Credential.Custompms_Proxy.ApiKey}']);
  });
});

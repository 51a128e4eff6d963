import {
  applyOverrides,
  FLOWS,
  overridesFromOrg,
  type FieldMapRecord,
  type SyncSettingRecord,
} from '../../../proxy/src/sync';

/** The records force-app ships, as the org returns them: one per shipped row and flow. */
function shippedRecords(): { fields: FieldMapRecord[]; settings: SyncSettingRecord[] } {
  const fields = Object.values(FLOWS).flatMap((flow) =>
    flow.fields.map((field) => ({
      Key__c: field.key,
      Flow__c: flow.name,
      MasterLabel: field.label,
      Custompms_Property__c: field.custompms,
      Salesforce_Field__c: field.salesforce,
      Direction__c: field.direction,
      Kind__c: field.kind,
      Max_Length__c: field.maxLength ?? null,
      Required_In_Salesforce__c: field.requiredInSalesforce ?? false,
      Required_In_Custompms__c: field.requiredInCustompms ?? false,
      To_Salesforce__c: field.toSalesforce ? JSON.stringify(field.toSalesforce) : null,
      To_Custompms__c: field.toCustompms ? JSON.stringify(field.toCustompms) : null,
      Enabled__c: field.enabled,
    })),
  );
  const settings = Object.values(FLOWS).map((flow) => ({
    Flow__c: flow.name,
    Conflict_Policy__c: flow.conflictPolicy,
    Delete_Policy__c: flow.deletePolicy,
    Create_From_Salesforce__c: flow.createFromSalesforce,
  }));
  return { fields, settings };
}

describe('overridesFromOrg', () => {
  it('finds no change in the records as shipped', () => {
    const { overrides, problems } = overridesFromOrg(FLOWS, shippedRecords());
    expect(overrides).toEqual({ fields: [], flows: [] });
    expect(problems).toEqual([]);
  });

  it('turns what an admin changed into overrides, and only that', () => {
    const records = shippedRecords();
    const status = records.fields.find((record) => record.Key__c === 'tasks.status')!;
    const map = JSON.parse(status.To_Custompms__c!) as Record<string, string>;
    status.To_Custompms__c = JSON.stringify({ ...map, Deferred: 'todo' });
    const description = records.fields.find((record) => record.Key__c === 'projects.description')!;
    description.Direction__c = 'to_salesforce';
    description.MasterLabel = 'Renamed label only';
    records.settings.find((record) => record.Flow__c === 'tasks')!.Conflict_Policy__c = 'custompms';

    const { overrides } = overridesFromOrg(FLOWS, records);
    expect(overrides.fields).toEqual([
      { flow: 'projects', key: 'projects.description', direction: 'to_salesforce' },
      { flow: 'tasks', key: 'tasks.status', toCustompms: { ...map, Deferred: 'todo' } },
    ]);
    expect(overrides.flows).toEqual([{ flow: 'tasks', conflictPolicy: 'custompms' }]);
    const { definition, problems } = applyOverrides(FLOWS, overrides);
    expect(problems).toEqual([]);
    expect(definition.tasks.conflictPolicy).toBe('custompms');
    expect(definition.tasks.fields.find((field) => field.key === 'tasks.status')!.toCustompms!.Deferred).toBe(
      'todo',
    );
    expect(definition.projects.fields.find((field) => field.key === 'projects.description')!.direction).toBe(
      'to_salesforce',
    );
  });

  it('reports a value map that is not JSON instead of applying it', () => {
    const records = shippedRecords();
    records.fields.find((record) => record.Key__c === 'tasks.status')!.To_Custompms__c = '{"Deferred": ';
    const { overrides, problems } = overridesFromOrg(FLOWS, records);
    expect(overrides.fields).toEqual([]);
    expect(problems).toEqual([expect.objectContaining({ code: 'bad_override', field: 'tasks.status' })]);
  });

  it('prefers an override record to the shipped one, which a redeploy may reset without loss', () => {
    const records = shippedRecords();
    const title = records.fields.find((record) => record.Key__c === 'tasks.title')!;
    const tasks = records.settings.find((record) => record.Flow__c === 'tasks')!;
    const { overrides, problems } = overridesFromOrg(FLOWS, {
      fields: [...records.fields, { ...title, Max_Length__c: 120, Override__c: true }],
      settings: [...records.settings, { ...tasks, Delete_Policy__c: 'unlink', Override__c: true }],
    });
    expect(problems).toEqual([]);
    expect(overrides.fields).toEqual([{ flow: 'tasks', key: 'tasks.title', maxLength: 120 }]);
    expect(overrides.flows).toEqual([{ flow: 'tasks', deletePolicy: 'unlink' }]);
  });

  it('applies a shipped record edited in Setup but reports it (the next deploy resets it)', () => {
    const records = shippedRecords();
    const fields = records.fields.map((record) =>
      record.Key__c === 'tasks.title' ? { ...record, Max_Length__c: 100, Override__c: false } : record,
    );
    const { overrides, problems } = overridesFromOrg(FLOWS, { fields, settings: records.settings });
    expect(overrides.fields).toEqual([{ flow: 'tasks', key: 'tasks.title', maxLength: 100 }]);
    expect(problems).toEqual([
      expect.objectContaining({ code: 'shipped_record_edited', severity: 'warning', field: 'tasks.title' }),
    ]);
  });

  it('reports two override records for one row', () => {
    const records = shippedRecords();
    const title = records.fields.find((record) => record.Key__c === 'tasks.title')!;
    const { problems } = overridesFromOrg(FLOWS, {
      fields: [
        ...records.fields,
        { ...title, Max_Length__c: 120, Override__c: true },
        { ...title, Max_Length__c: 130, Override__c: true },
      ],
      settings: records.settings,
    });
    expect(problems).toEqual([expect.objectContaining({ code: 'bad_override', field: 'tasks:tasks.title' })]);
  });
});

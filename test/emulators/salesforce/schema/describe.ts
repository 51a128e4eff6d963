/**
 * Describe results in the REST API's shape: `GET /sobjects` (DescribeGlobal) and
 * `GET /sobjects/X/describe` (DescribeSObjectResult with DescribeFieldResult entries, REST API
 * Developer Guide "sObject Describe"; property names as the API reports them).
 */
import { soapType, type FieldDef, type ObjectDef } from './types';

function urls(version: string, object: ObjectDef): Record<string, string> {
  const base = `/services/data/v${version}/sobjects/${object.name}`;
  return {
    sobject: base,
    describe: `${base}/describe`,
    rowTemplate: `${base}/{ID}`,
  };
}

function capabilities(object: ObjectDef): Record<string, unknown> {
  return {
    activateable: false,
    createable: object.createable,
    custom: object.custom,
    customSetting: false,
    deletable: object.deletable,
    deprecatedAndHidden: false,
    feedEnabled: false,
    hasSubtypes: false,
    isInterface: false,
    isSubtype: false,
    keyPrefix: object.keyPrefix,
    label: object.label,
    labelPlural: object.labelPlural,
    layoutable: object.kind === 'standard' || object.kind === 'custom',
    mergeable: false,
    mruEnabled: object.kind === 'standard' || object.kind === 'custom',
    name: object.name,
    queryable: object.queryable,
    replicateable: object.replicateable,
    retrieveable: object.retrieveable,
    searchable: object.searchable,
    triggerable: object.triggerable,
    undeletable: object.undeletable,
    updateable: object.updateable,
  };
}

/** One entry of DescribeGlobal's `sobjects`. */
export function describeGlobalEntry(object: ObjectDef, version: string): Record<string, unknown> {
  return { ...capabilities(object), urls: urls(version, object) };
}

export function describeField(def: FieldDef, picklistIds?: string[]): Record<string, unknown> {
  const textual = def.length > 0 && def.type !== 'id' && def.type !== 'reference';
  const picklistValues = picklistIds
    ? picklistIds.map((id) => ({ active: true, defaultValue: false, label: id, validFor: null, value: id }))
    : def.picklistValues.map((v) => ({
        active: v.active,
        defaultValue: v.defaultValue,
        label: v.label,
        validFor: null,
        value: v.value,
      }));
  return {
    aggregatable: def.groupable,
    aiPredictionField: false,
    autoNumber: false,
    byteLength: textual || def.type === 'id' || def.type === 'reference' ? def.length * 3 : 0,
    calculated: def.calculated,
    calculatedFormula: null,
    cascadeDelete: false,
    caseSensitive: def.caseSensitive,
    compoundFieldName: null,
    controllerName: null,
    createable: def.createable,
    custom: def.custom,
    defaultValue: def.defaultValue ?? null,
    defaultValueFormula: null,
    defaultedOnCreate: def.defaultedOnCreate,
    dependentPicklist: false,
    deprecatedAndHidden: false,
    digits: def.digits,
    displayLocationInDecimal: false,
    encrypted: false,
    externalId: def.externalId,
    extraTypeInfo: def.type === 'textarea' ? (def.htmlFormatted ? 'richtextarea' : 'plaintextarea') : null,
    filterable: def.filterable,
    filteredLookupInfo: null,
    formulaTreatNullNumberAsZero: false,
    groupable: def.groupable,
    highScaleNumber: false,
    htmlFormatted: def.htmlFormatted,
    idLookup: def.idLookup,
    inlineHelpText: null,
    label: def.label,
    length: def.type === 'id' || def.type === 'reference' ? 18 : def.length,
    mask: null,
    maskType: null,
    name: def.name,
    nameField: def.nameField,
    namePointing: def.polymorphicForeignKey,
    nillable: def.nillable,
    permissionable: def.custom && def.nillable,
    picklistValues,
    polymorphicForeignKey: def.polymorphicForeignKey,
    precision: def.precision,
    queryByDistance: false,
    referenceTargetField: null,
    referenceTo: def.referenceTo,
    relationshipName: def.relationshipName,
    relationshipOrder: null,
    restrictedDelete: false,
    restrictedPicklist: def.restrictedPicklist,
    scale: def.scale,
    searchPrefilterable: false,
    soapType: soapType(def.type),
    sortable: def.sortable,
    type: def.type,
    unique: def.unique,
    updateable: def.updateable,
    writeRequiresMasterRead: false,
  };
}

export function describeObject(
  object: ObjectDef,
  version: string,
  picklistIds: (objectName: string) => string[],
): Record<string, unknown> {
  return {
    actionOverrides: [],
    ...capabilities(object),
    childRelationships: [],
    compactLayoutable: object.kind === 'standard' || object.kind === 'custom',
    deepCloneable: false,
    defaultImplementation: null,
    extendedBy: null,
    extendsInterfaces: null,
    fields: object.fields.map((def) =>
      describeField(def, def.picklistOfIds ? picklistIds(def.picklistOfIds) : undefined),
    ),
    implementedBy: null,
    implementsInterfaces: null,
    listviewable: null,
    lookupLayoutable: null,
    namedLayoutInfos: [],
    networkScopeFieldName: null,
    recordTypeInfos: [],
    searchLayoutable: object.searchable,
    sobjectDescribeOption: 'FULL',
    supportedScopes: [],
    urls: urls(version, object),
  };
}

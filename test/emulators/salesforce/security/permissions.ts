/**
 * What a profile or permission set grants, in the Metadata API's terms (PermissionSet and Profile
 * share these elements: Metadata API Developer Guide, "PermissionSet"): `userPermissions`
 * (system permissions such as ApiEnabled, EditTask, ViewAllData, ModifyAllData),
 * `objectPermissions` (allowRead/Create/Edit/Delete, viewAllRecords, modifyAllRecords),
 * `fieldPermissions` (readable, editable on `Object.Field`), `customPermissions`,
 * `customMetadataTypeAccesses` and `externalCredentialPrincipalAccesses`. A user's access is the
 * union of their profile and every assigned permission set ("Permission sets … grant additional
 * permissions": permissions are only ever added, never taken away by a permission set).
 */
import { childBool, childText, children, type XmlNode } from '../xml';

export interface ObjectPermission {
  allowRead: boolean;
  allowCreate: boolean;
  allowEdit: boolean;
  allowDelete: boolean;
  viewAllRecords: boolean;
  modifyAllRecords: boolean;
}

export interface FieldPermission {
  readable: boolean;
  editable: boolean;
}

export interface Grants {
  /** System permissions by API name (ApiEnabled, EditTask, ViewAllData, ModifyAllData, ...). */
  userPermissions: Set<string>;
  /** Lower-cased object name → object permission. */
  objectPermissions: Map<string, ObjectPermission>;
  /** Lower-cased `object.field` → field permission. */
  fieldPermissions: Map<string, FieldPermission>;
  customPermissions: Set<string>;
  /** Lower-cased `X__mdt` names. */
  customMetadataTypes: Set<string>;
  /** `ExternalCredential-Principal` names. */
  externalCredentialPrincipals: Set<string>;
}

export function emptyGrants(): Grants {
  return {
    userPermissions: new Set(),
    objectPermissions: new Map(),
    fieldPermissions: new Map(),
    customPermissions: new Set(),
    customMetadataTypes: new Set(),
    externalCredentialPrincipals: new Set(),
  };
}

export const FULL_OBJECT_ACCESS: ObjectPermission = {
  allowRead: true,
  allowCreate: true,
  allowEdit: true,
  allowDelete: true,
  viewAllRecords: true,
  modifyAllRecords: true,
};

/** Reads the grants of a PermissionSet (or Profile) metadata component. */
export function grantsFromMetadata(content: XmlNode): Grants {
  const grants = emptyGrants();
  for (const p of children(content, 'userPermissions')) {
    if (childBool(p, 'enabled')) grants.userPermissions.add(childText(p, 'name') ?? '');
  }
  for (const p of children(content, 'objectPermissions')) {
    const object = (childText(p, 'object') ?? '').toLowerCase();
    if (!object) continue;
    grants.objectPermissions.set(object, {
      allowRead: childBool(p, 'allowRead') ?? false,
      allowCreate: childBool(p, 'allowCreate') ?? false,
      allowEdit: childBool(p, 'allowEdit') ?? false,
      allowDelete: childBool(p, 'allowDelete') ?? false,
      viewAllRecords: childBool(p, 'viewAllRecords') ?? false,
      modifyAllRecords: childBool(p, 'modifyAllRecords') ?? false,
    });
  }
  for (const p of children(content, 'fieldPermissions')) {
    const field = (childText(p, 'field') ?? '').toLowerCase();
    if (!field) continue;
    const editable = childBool(p, 'editable') ?? false;
    // FieldPermissions: "PermissionsEdit … Requires PermissionsRead for the same field to be true."
    grants.fieldPermissions.set(field, {
      readable: (childBool(p, 'readable') ?? false) || editable,
      editable,
    });
  }
  for (const p of children(content, 'customPermissions')) {
    if (childBool(p, 'enabled')) grants.customPermissions.add(childText(p, 'name') ?? '');
  }
  for (const p of children(content, 'customMetadataTypeAccesses')) {
    if (childBool(p, 'enabled')) grants.customMetadataTypes.add((childText(p, 'name') ?? '').toLowerCase());
  }
  for (const p of children(content, 'externalCredentialPrincipalAccesses')) {
    if (childBool(p, 'enabled'))
      grants.externalCredentialPrincipals.add(childText(p, 'externalCredentialPrincipal') ?? '');
  }
  return grants;
}

/** Adds `more` into `into` (a union, as profile + permission sets combine). */
export function mergeGrants(into: Grants, more: Grants): Grants {
  for (const p of more.userPermissions) into.userPermissions.add(p);
  for (const [object, p] of more.objectPermissions) {
    const had = into.objectPermissions.get(object);
    into.objectPermissions.set(
      object,
      had
        ? {
            allowRead: had.allowRead || p.allowRead,
            allowCreate: had.allowCreate || p.allowCreate,
            allowEdit: had.allowEdit || p.allowEdit,
            allowDelete: had.allowDelete || p.allowDelete,
            viewAllRecords: had.viewAllRecords || p.viewAllRecords,
            modifyAllRecords: had.modifyAllRecords || p.modifyAllRecords,
          }
        : { ...p },
    );
  }
  for (const [field, p] of more.fieldPermissions) {
    const had = into.fieldPermissions.get(field);
    into.fieldPermissions.set(
      field,
      had ? { readable: had.readable || p.readable, editable: had.editable || p.editable } : { ...p },
    );
  }
  for (const p of more.customPermissions) into.customPermissions.add(p);
  for (const p of more.customMetadataTypes) into.customMetadataTypes.add(p);
  for (const p of more.externalCredentialPrincipals) into.externalCredentialPrincipals.add(p);
  return into;
}

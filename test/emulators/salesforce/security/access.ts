/**
 * What one user may do in the org: object permissions (CRUD), field-level security and record
 * access (sharing), from their profile, their permission sets and their place in the role
 * hierarchy. `UserAccess` answers the questions the API layers ask; the DML layer, SOQL, describe,
 * the REST routes, outbound messages and the Apex runtime's user mode all use it.
 *
 * Sources (each rule below names its own):
 * - Object and field permissions come from the profile plus every assigned permission set
 *   (Metadata API "PermissionSet"; Object Reference "FieldPermissions": "PermissionsEdit …
 *   Requires PermissionsRead").
 * - "Required fields (marked as required or master-detail fields) will always have read and edit
 *   access, while system fields (such as Created By or Created Date) will always be read-only"
 *   (Murru, "Salesforce Advanced Administrator Certification Guide", Field-Level Security); a field
 *   hidden by field-level security does not exist for the API (describe leaves it out, SOQL answers
 *   INVALID_FIELD "No such column"); a readable field that is not editable fails a write with
 *   INVALID_FIELD_FOR_INSERT_UPDATE "Unable to create/update fields: … Please check the security
 *   settings of this field and verify that it is read/write for your profile or permission set."
 * - Field permissions for Activity custom fields are granted per object, as `Task.X__c` and
 *   `Event.X__c`; a `<field>Activity.X__c</field>` grant does not reach Task (it is a known
 *   mistake in permission sets: the org holds only the Task and Event entries).
 * - Task record access. Activities have no sharing rules; the org-wide default is Private or
 *   Controlled by Parent. Private: "Only the activity owner (labeled as Assigned To) and users
 *   above the activity owner in the role hierarchy can edit and delete the activity. Users with
 *   Read access to the record to which the activity is associated (Name and Related To) can view"
 *   it; Controlled by Parent with Name and Related To both blank: "unable to open the Task"
 *   (simplysfdc.com, "Salesforce: Activity Visibility Controlled by Parent", 2015). "Someone who is
 *   higher in the role hierarchy can edit tasks and events assigned to the users who report to
 *   them … subordinates cannot edit activities assigned to someone higher in the hierarchy or
 *   activities assigned to users with the same role" (Salesforce Help, Knowledge Article 000385354
 *   / 000325945). Editing a task needs the Edit Tasks permission (gmkreddysfdc, "Salesforce:
 *   Activity Visibility Controlled by Parent", 2023). The emulated org has no Contact, Lead,
 *   Account or other parent records, so every Task is parentless: the emulator models the Private
 *   default (owner, users above the owner's role, View All Data / Modify All Data), which for a
 *   parentless Task is also the widest Controlled by Parent could give. Task has no object-level
 *   View All / Modify All (activities are not in objectPermissions; access comes from Edit Tasks
 *   and the sharing model), so `objectPermissions` for Task are ignored.
 * - View All Data / Modify All Data: read (and for Modify All Data, edit and delete) every record
 *   regardless of sharing; they do not bypass field-level security.
 * - Custom metadata types: readable with Customize Application or a `customMetadataTypeAccesses`
 *   grant (Metadata API "PermissionSet": customMetadataTypeAccesses).
 * - Platform events: publishing needs Create on the event object (Platform Events Developer
 *   Guide, "Platform Event Permissions"; the integration permission set grants it).
 * - Divisions: "To create or edit divisions: Modify All Data" (Salesforce Help, "Set Up
 *   Divisions", User Permissions Needed); "users can always view records in all divisions.
 *   Divisions do not provide any type of security for your records" ("Getting Started with
 *   Divisions"), so every user reads them.
 */
import type { StoredRecord } from '../data/values';
import { canonicalId } from '../ids';
import type { OrgSchema } from '../schema/org-schema';
import type { FieldDef, ObjectDef } from '../schema/types';
import {
  FULL_OBJECT_ACCESS,
  emptyGrants,
  mergeGrants,
  type Grants,
  type ObjectPermission,
} from './permissions';
import type { ProfileDef } from './profiles';

export type FieldAccess = 'none' | 'read' | 'edit';

/** What an operation enforces: object permissions, field-level security, record sharing. */
export interface Enforcement {
  crud: boolean;
  fls: boolean;
  sharing: boolean;
}

/** API calls and Apex user mode: everything the running user's permissions allow, nothing more. */
export const USER_MODE: Enforcement = { crud: true, fls: true, sharing: true };
/** Apex system mode in a `with sharing` class: record sharing only. */
export const SYSTEM_MODE_WITH_SHARING: Enforcement = { crud: false, fls: false, sharing: true };

const NO_ACCESS: ObjectPermission = {
  allowRead: false,
  allowCreate: false,
  allowEdit: false,
  allowDelete: false,
  viewAllRecords: false,
  modifyAllRecords: false,
};

const READ_ONLY: ObjectPermission = { ...NO_ACCESS, allowRead: true };

export interface AccessSource {
  schema: OrgSchema;
  profileOf(userId: string): ProfileDef | undefined;
  permissionSetsOf(userId: string): string[];
  directCustomPermissions(userId: string): string[];
  directSystemPermissions(userId: string): string[];
  /** Role names from the user's role up to the top of the hierarchy (own role first). */
  roleChainOf(userId: string): string[];
}

export class UserAccess {
  readonly grants: Grants;
  private readonly profile: ProfileDef | undefined;
  private readonly views = new Map<string, ObjectDef>();

  constructor(
    private readonly source: AccessSource,
    readonly userId: string,
  ) {
    this.profile = source.profileOf(userId);
    const grants = emptyGrants();
    if (this.profile) mergeGrants(grants, this.profile.grants);
    for (const name of source.permissionSetsOf(userId)) {
      const set = source.schema.permissionSets.get(name);
      if (set) mergeGrants(grants, set.grants);
    }
    for (const p of source.directCustomPermissions(userId)) grants.customPermissions.add(p);
    for (const p of source.directSystemPermissions(userId)) grants.userPermissions.add(p);
    this.grants = grants;
  }

  has(userPermission: string): boolean {
    return this.grants.userPermissions.has(userPermission);
  }

  get viewAllData(): boolean {
    return this.has('ViewAllData') || this.has('ModifyAllData');
  }

  get modifyAllData(): boolean {
    return this.has('ModifyAllData');
  }

  /** Object permissions (CRUD, View All, Modify All) on an object. */
  objectAccess(object: ObjectDef): ObjectPermission {
    if (this.profile?.allObjects || this.modifyAllData) return FULL_OBJECT_ACCESS;
    const granted = this.grants.objectPermissions.get(object.name.toLowerCase());
    const viewAll = this.viewAllData;
    switch (object.kind) {
      case 'customMetadata':
        return this.has('CustomizeApplication') ||
          this.grants.customMetadataTypes.has(object.name.toLowerCase())
          ? READ_ONLY
          : NO_ACCESS;
      case 'platformEvent':
      case 'custom': {
        const p = granted ?? NO_ACCESS;
        return viewAll ? { ...p, allowRead: true, viewAllRecords: true } : p;
      }
      default:
        break;
    }
    switch (object.name) {
      case 'Task': {
        const edit = this.has('EditTask');
        return {
          allowRead: true,
          allowCreate: edit,
          allowEdit: edit,
          allowDelete: edit,
          viewAllRecords: viewAll,
          modifyAllRecords: false,
        };
      }
      case 'User': {
        const manage = this.has('ManageUsers');
        return { ...READ_ONLY, allowCreate: manage, allowEdit: manage, viewAllRecords: viewAll };
      }
      default:
        // Division and Organization: readable by every user; changed only with Modify All Data.
        return { ...READ_ONLY, viewAllRecords: viewAll };
    }
  }

  /** Field-level security of one field. */
  fieldAccess(object: ObjectDef, def: FieldDef): FieldAccess {
    if (def.system || def.name === 'Id') return 'read';
    // Universally required fields are always readable and editable.
    if (!def.nillable) return 'edit';
    // Not modelled (no source settled it): field-level security on platform event and custom
    // metadata type fields, and on the fields of User, Division and Organization.
    if (object.kind === 'platformEvent' || object.kind === 'customMetadata') return 'edit';
    if (object.kind === 'standard' && object.name !== 'Task' && !def.custom) return 'edit';
    const granted = this.grants.fieldPermissions.get(`${object.name}.${def.name}`.toLowerCase());
    const fromProfile: FieldAccess = !def.custom
      ? (this.profile?.standardFields ?? 'none')
      : (this.profile?.customFields ?? 'none');
    const fromGrant: FieldAccess = granted
      ? granted.editable
        ? 'edit'
        : granted.readable
          ? 'read'
          : 'none'
      : 'none';
    const rank = { none: 0, read: 1, edit: 2 } as const;
    return rank[fromGrant] >= rank[fromProfile] ? fromGrant : fromProfile;
  }

  /**
   * The object as this user's API sees it: hidden fields left out, read-only fields neither
   * createable nor updateable, queryable/retrieveable cut to the user's Read permission. The
   * object's createable/updateable/deletable flags stay the object's own (which HTTP methods a
   * route allows); the DML layer refuses a write the user's object permissions do not allow.
   */
  view(object: ObjectDef): ObjectDef {
    const cached = this.views.get(object.name);
    if (cached) return cached;
    const crud = this.objectAccess(object);
    const fields: FieldDef[] = [];
    for (const def of object.fields) {
      const access = this.fieldAccess(object, def);
      if (access === 'none') continue;
      fields.push(access === 'edit' ? def : { ...def, createable: false, updateable: false });
    }
    const view: ObjectDef = {
      ...object,
      queryable: object.queryable && crud.allowRead,
      retrieveable: object.retrieveable && crud.allowRead,
      fields,
      index: new Map(fields.map((f) => [f.name.toLowerCase(), f])),
    };
    this.views.set(object.name, view);
    return view;
  }

  /** Whether the user has any access to an object (describe, REST routes). */
  canAccessObject(object: ObjectDef): boolean {
    const p = this.objectAccess(object);
    return p.allowRead || p.allowCreate;
  }

  /** A schema as this user sees it (SOQL binds against it). */
  schemaView(): Pick<OrgSchema, 'object'> {
    return {
      object: (name: string) => {
        const object = this.source.schema.object(name);
        if (!object || !this.objectAccess(object).allowRead) return undefined;
        return this.view(object);
      },
    };
  }

  private ownerAccess(record: StoredRecord): boolean {
    const owner = typeof record.OwnerId === 'string' ? (canonicalId(record.OwnerId) ?? record.OwnerId) : '';
    if (owner === this.userId) return true;
    return this.isAboveInHierarchy(owner);
  }

  /** The user's role is above `otherUserId`'s role in the role hierarchy. */
  isAboveInHierarchy(otherUserId: string): boolean {
    const mine = this.source.roleChainOf(this.userId)[0];
    if (!mine) return false;
    const chain = this.source.roleChainOf(otherUserId);
    return chain.slice(1).includes(mine);
  }

  /** Record-level read access (sharing). */
  canSee(object: ObjectDef, record: StoredRecord): boolean {
    if (this.viewAllData) return true;
    if (object.name === 'Task') return this.ownerAccess(record);
    if (object.kind === 'custom') {
      if (this.objectAccess(object).viewAllRecords) return true;
      return typeof record.OwnerId !== 'string' || this.ownerAccess(record);
    }
    return true;
  }

  /** Record-level edit access (sharing plus, for Tasks, the Edit Tasks permission). */
  canEdit(object: ObjectDef, record: StoredRecord): boolean {
    if (this.modifyAllData) return true;
    if (object.name === 'Task') return this.has('EditTask') && this.ownerAccess(record);
    if (object.kind === 'custom') {
      if (this.objectAccess(object).modifyAllRecords) return true;
      return typeof record.OwnerId !== 'string' || this.ownerAccess(record);
    }
    return true;
  }

  hasCustomPermission(name: string): boolean {
    return this.grants.customPermissions.has(name);
  }

  /** Access to an External Credential principal (`Credential-Principal`). */
  hasPrincipalAccess(externalCredential: string, principal: string): boolean {
    return this.grants.externalCredentialPrincipals.has(`${externalCredential}-${principal}`);
  }
}

/**
 * Users of the emulated org: User records (queryable, owner lookup by email) plus what the data
 * API cannot show — assigned permission sets and directly granted custom permissions, which
 * decide `$Permission.Custompms_Sync_Bypass` in the Flow and `FeatureManagement.checkPermission`
 * in the Apex transliterations.
 */
import { canonicalId } from './ids';
import type { Database, RunAs } from './data/database';
import type { StoredRecord } from './data/values';

export interface UserSpec {
  username: string;
  email: string;
  lastName: string;
  firstName?: string;
  alias?: string;
  isActive?: boolean;
  userType?: 'Standard' | 'AutomatedProcess';
  /** Permission sets (by API name) assigned to the user. */
  permissionSets?: string[];
  /** Custom permissions granted directly (as a profile would). */
  customPermissions?: string[];
}

interface Grants {
  permissionSets: Set<string>;
  customPermissions: Set<string>;
}

export class UserDirectory {
  private readonly grants = new Map<string, Grants>();

  constructor(private readonly db: Database) {}

  create(spec: UserSpec): StoredRecord {
    const existing = this.byUsername(spec.username);
    if (existing) throw new Error(`a user named ${spec.username} exists`);
    const division = this.db.schema.options.divisions ? this.globalDivisionId() : undefined;
    const record = this.db.systemInsert('User', {
      Username: spec.username,
      Email: spec.email,
      LastName: spec.lastName,
      FirstName: spec.firstName ?? null,
      Name: [spec.firstName, spec.lastName].filter(Boolean).join(' '),
      Alias: spec.alias ?? spec.lastName.slice(0, 8),
      IsActive: spec.isActive ?? true,
      UserType: spec.userType ?? 'Standard',
      TimeZoneSidKey: 'GMT',
      ...(division ? { DefaultDivision: division } : {}),
    });
    this.grants.set(record.Id as string, {
      permissionSets: new Set(spec.permissionSets ?? []),
      customPermissions: new Set(spec.customPermissions ?? []),
    });
    return record;
  }

  private globalDivisionId(): string | undefined {
    for (const [id, row] of this.db.table('Division').rows) if (row.IsGlobalDivision === true) return id;
    return undefined;
  }

  byUsername(username: string): StoredRecord | undefined {
    const lower = username.toLowerCase();
    for (const row of this.db.table('User').rows.values()) {
      if (String(row.Username).toLowerCase() === lower) return row;
    }
    return undefined;
  }

  byId(id: string): StoredRecord | undefined {
    return this.db.table('User').get(canonicalId(id) ?? id);
  }

  /** Resolves a user by id or username. */
  resolve(idOrUsername: string): StoredRecord | undefined {
    return this.byId(idOrUsername) ?? this.byUsername(idOrUsername);
  }

  all(): StoredRecord[] {
    return [...this.db.table('User').rows.values()];
  }

  hasCustomPermission(userId: string, permission: string): boolean {
    const grants = this.grants.get(canonicalId(userId) ?? userId);
    if (!grants) return false;
    if (grants.customPermissions.has(permission)) return true;
    return this.db.schema.customPermissionsOf(grants.permissionSets).has(permission);
  }

  permissionSetsOf(userId: string): string[] {
    return [...(this.grants.get(canonicalId(userId) ?? userId)?.permissionSets ?? [])];
  }

  grantCustomPermission(userId: string, permission: string, granted = true): void {
    const grants = this.grants.get(canonicalId(userId) ?? userId);
    if (!grants) throw new Error(`no such user ${userId}`);
    if (granted) grants.customPermissions.add(permission);
    else grants.customPermissions.delete(permission);
  }

  assignPermissionSet(userId: string, permissionSet: string, assigned = true): void {
    const grants = this.grants.get(canonicalId(userId) ?? userId);
    if (!grants) throw new Error(`no such user ${userId}`);
    if (assigned) grants.permissionSets.add(permissionSet);
    else grants.permissionSets.delete(permissionSet);
  }

  /** The running-user view a transaction needs. */
  runAs(idOrUsername: string): RunAs {
    const user = this.resolve(idOrUsername);
    if (!user) throw new Error(`no such user ${idOrUsername}`);
    const id = user.Id as string;
    return {
      id,
      username: String(user.Username),
      hasCustomPermission: (name) => this.hasCustomPermission(id, name),
    };
  }
}

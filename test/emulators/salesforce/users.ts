/**
 * Users of the emulated org: User records (queryable, owner lookup by email) plus what the data
 * API cannot show — each user's profile, role (in the role hierarchy), assigned permission sets
 * and directly granted custom permissions. Together they decide the user's object permissions,
 * field-level security and record access (security/access.ts), `$Permission.X` in the Flow and
 * `FeatureManagement.checkPermission` in the Apex transliterations.
 */
import { canonicalId } from './ids';
import type { Database, RunAs } from './data/database';
import type { StoredRecord } from './data/values';
import { UserAccess, type AccessSource } from './security/access';
import { STANDARD_USER, standardProfiles, type ProfileDef } from './security/profiles';

export interface RoleSpec {
  /** DeveloperName of the role. */
  name: string;
  /** The role this one reports to (undefined: a top role). */
  parent?: string;
}

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
  /** System permissions granted directly (as a profile or an admin-made permission set would): ViewAllData, ModifyAllData, ... */
  systemPermissions?: string[];
  /** Profile name (default "Standard User"); see security/profiles.ts. */
  profile?: string;
  /** Role (DeveloperName) in the role hierarchy; none by default. */
  role?: string;
}

interface Grants {
  permissionSets: Set<string>;
  customPermissions: Set<string>;
  systemPermissions: Set<string>;
  profile: string;
  role?: string;
}

export class UserDirectory implements AccessSource {
  private readonly grants = new Map<string, Grants>();
  /** Profiles by lower-cased name (the standard ones; `createProfile` adds more). */
  readonly profiles: Map<string, ProfileDef> = standardProfiles();
  /** Roles by DeveloperName. */
  readonly roles = new Map<string, RoleSpec>();

  constructor(private readonly db: Database) {}

  get schema() {
    return this.db.schema;
  }

  /** Adds a role to the role hierarchy (its parent must exist). */
  createRole(spec: RoleSpec): RoleSpec {
    if (this.roles.has(spec.name)) throw new Error(`a role named ${spec.name} exists`);
    if (spec.parent && !this.roles.has(spec.parent)) throw new Error(`no such role ${spec.parent}`);
    this.roles.set(spec.name, { ...spec });
    return spec;
  }

  /** Adds a custom profile (e.g. a clone with more grants). */
  createProfile(profile: ProfileDef): void {
    if (this.profiles.has(profile.name.toLowerCase()))
      throw new Error(`a profile named ${profile.name} exists`);
    this.profiles.set(profile.name.toLowerCase(), profile);
  }

  private grantsOf(userId: string): Grants {
    const grants = this.grants.get(canonicalId(userId) ?? userId);
    if (!grants) throw new Error(`no such user ${userId}`);
    return grants;
  }

  /** Moves a user to another role (undefined: no role). */
  setRole(userId: string, role: string | undefined): void {
    if (role && !this.roles.has(role)) throw new Error(`no such role ${role}`);
    this.grantsOf(userId).role = role;
  }

  /** Gives a user another profile. */
  setProfile(userId: string, profile: string): void {
    if (!this.profiles.has(profile.toLowerCase())) throw new Error(`no such profile ${profile}`);
    this.grantsOf(userId).profile = profile;
  }

  profileOf(userId: string): ProfileDef | undefined {
    const grants = this.grants.get(canonicalId(userId) ?? userId);
    return grants ? this.profiles.get(grants.profile.toLowerCase()) : undefined;
  }

  roleOf(userId: string): string | undefined {
    return this.grants.get(canonicalId(userId) ?? userId)?.role;
  }

  roleChainOf(userId: string): string[] {
    const chain: string[] = [];
    let role = this.roleOf(userId);
    while (role && !chain.includes(role)) {
      chain.push(role);
      role = this.roles.get(role)?.parent;
    }
    return chain;
  }

  directSystemPermissions(userId: string): string[] {
    return [...(this.grants.get(canonicalId(userId) ?? userId)?.systemPermissions ?? [])];
  }

  /**
   * Grants (or takes back) a system permission directly, as an admin does on the user's profile
   * or with a permission set of their own (e.g. ViewAllData, ModifyAllData for the integration
   * user, which force-app does not ship).
   */
  grantSystemPermission(userId: string, permission: string, granted = true): void {
    const grants = this.grantsOf(userId);
    if (granted) grants.systemPermissions.add(permission);
    else grants.systemPermissions.delete(permission);
  }

  directCustomPermissions(userId: string): string[] {
    return [...(this.grants.get(canonicalId(userId) ?? userId)?.customPermissions ?? [])];
  }

  /** What a user may do: object permissions, field-level security, record access. */
  access(userId: string): UserAccess {
    return new UserAccess(this, canonicalId(userId) ?? userId);
  }

  create(spec: UserSpec): StoredRecord {
    const existing = this.byUsername(spec.username);
    if (existing) throw new Error(`a user named ${spec.username} exists`);
    const profile = spec.profile ?? STANDARD_USER;
    if (!this.profiles.has(profile.toLowerCase())) throw new Error(`no such profile ${profile}`);
    if (spec.role && !this.roles.has(spec.role)) throw new Error(`no such role ${spec.role}`);
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
      systemPermissions: new Set(spec.systemPermissions ?? []),
      profile,
      role: spec.role,
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
    if (!this.grants.has(canonicalId(userId) ?? userId)) return false;
    return this.access(userId).hasCustomPermission(permission);
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
      access: () => this.access(id),
    };
  }
}

/**
 * Org facts the mapper needs, cached and refreshed: active users by email (owner lookups,
 * MAPPING.md "Owner lookups are cached and refreshed"), and whether the org has divisions
 * (`User.DefaultDivision` exists only then; SALESFORCE.md "Division").
 */
import type { SalesforceOperations } from './operations';

export interface OrgUser {
  id: string;
  email: string | null;
  isActive: boolean;
}

export class OrgDirectory {
  private users: { value: OrgUser[]; loadedAt: number } | undefined;
  private divisions: boolean | undefined;

  constructor(
    private readonly operations: SalesforceOperations,
    private readonly ttlMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Every user with an email (inactive ones too: their ids still resolve back to an email). */
  async listUsers(): Promise<OrgUser[]> {
    if (this.users && this.now() - this.users.loadedAt < this.ttlMs) return this.users.value;
    const users: OrgUser[] = [];
    for await (const user of this.operations.query<{ Id: string; Email: string | null; IsActive: boolean }>(
      'SELECT Id, Email, IsActive FROM User WHERE Email != null',
    )) {
      users.push({ id: user.Id, email: user.Email, isActive: user.IsActive });
    }
    this.users = { value: users, loadedAt: this.now() };
    return users;
  }

  /** Forget the cached users (e.g. after an owner id the cache does not know). */
  invalidateUsers(): void {
    this.users = undefined;
  }

  async hasDivisions(): Promise<boolean> {
    if (this.divisions === undefined) {
      const describe = await this.operations.client.call((conn) => conn.sobject('User').describe());
      this.divisions = describe.fields.some((field) => field.name === 'DefaultDivision');
    }
    return this.divisions;
  }
}

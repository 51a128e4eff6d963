/**
 * Org facts the mapper needs, cached and refreshed: active users by email (owner lookups,
 * MAPPING.md "Owner lookups are cached and refreshed"), and whether the org has divisions
 * (`User.DefaultDivision` exists only then; SALESFORCE.md "Division").
 */
import type { SalesforceOperations } from './operations';

export interface UserDirectory {
  /** Lower-cased email → active user ids (several ids = ambiguous). */
  idsByEmail: Map<string, string[]>;
  /** User id → email. */
  emailById: Map<string, string>;
}

export class OrgDirectory {
  private users: { value: UserDirectory; loadedAt: number } | undefined;
  private divisions: boolean | undefined;

  constructor(
    private readonly operations: SalesforceOperations,
    private readonly ttlMs = 10 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async userDirectory(): Promise<UserDirectory> {
    if (this.users && this.now() - this.users.loadedAt < this.ttlMs) return this.users.value;
    const idsByEmail = new Map<string, string[]>();
    const emailById = new Map<string, string>();
    for await (const user of this.operations.query<{ Id: string; Email: string | null }>(
      'SELECT Id, Email FROM User WHERE IsActive = true',
    )) {
      if (!user.Email) continue;
      const email = user.Email.toLowerCase();
      idsByEmail.set(email, [...(idsByEmail.get(email) ?? []), user.Id]);
      emailById.set(user.Id, user.Email);
    }
    this.users = { value: { idsByEmail, emailById }, loadedAt: this.now() };
    return this.users.value;
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

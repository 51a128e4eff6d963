/**
 * What the core needs to know about the world, passed in as data: the owner directory and the
 * links of related records. Callers load these (from the store, from a cached User query) and
 * hand them over; the core never does I/O.
 */
import { canonicalSalesforceId } from './values';

/** Anything with a synchronous `get`: a `Map`, or an object wrapping one. */
export interface Lookup<K, V> {
  get(key: K): V | undefined;
}

/** Salesforce users, resolved ahead of time (MAPPING.md: lookups are cached and refreshed). */
export interface OwnerDirectory {
  /** Ids (18 characters) of **active** users by lower-cased email; more than one id is an ambiguity. */
  readonly usersByEmail: Lookup<string, readonly string[]>;
  /** Email of a user by 18-character id. */
  readonly emailByUser: Lookup<string, string>;
  /**
   * The integration user: owner when no active user matches an email (or there is no email), and
   * read back as "no owner", so an empty Custompms owner round-trips.
   */
  readonly integrationUserId: string;
}

/** A linked Custompms project, as much as tasks need of it. */
export interface LinkedProject {
  /** The project's customer, from the project link's snapshot (`null` when it has none). */
  readonly customerId: string | null;
}

/** Everything the mapper and the planner look up. */
export interface SyncContext {
  /** Whether the org has divisions (`User.DefaultDivision` exists); without them `Division` is not mapped. */
  readonly divisionsEnabled: boolean;
  readonly owners: OwnerDirectory;
  /** Division id linked to each Custompms customer id. */
  readonly divisionByCustomer: Lookup<string, string>;
  /** Custompms customer id linked to each Division id (18 characters). */
  readonly customerByDivision: Lookup<string, string>;
  /** Projects that are linked (exist on both sides), by Custompms project id. */
  readonly linkedProjects: Lookup<string, LinkedProject>;
}

/** A Salesforce user as a `SELECT Id, Email, IsActive FROM User` returns it. */
export interface DirectoryUser {
  readonly id: string;
  readonly email: string | null;
  readonly isActive: boolean;
}

/** Builds an `OwnerDirectory` from a list of users (inactive users resolve back, never forward). */
export function ownerDirectory(users: readonly DirectoryUser[], integrationUserId: string): OwnerDirectory {
  const usersByEmail = new Map<string, string[]>();
  const emailByUser = new Map<string, string>();
  const id18 = (id: string): string => {
    const canonical = canonicalSalesforceId(id);
    return typeof canonical === 'string' ? canonical : id;
  };
  for (const user of users) {
    if (user.email === null || user.email === '') continue;
    const id = id18(user.id);
    emailByUser.set(id, user.email);
    if (!user.isActive) continue;
    const key = user.email.toLowerCase();
    const ids = usersByEmail.get(key);
    if (ids) ids.push(id);
    else usersByEmail.set(key, [id]);
  }
  return { usersByEmail, emailByUser, integrationUserId: id18(integrationUserId) };
}

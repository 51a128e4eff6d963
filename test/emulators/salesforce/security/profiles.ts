/**
 * The standard profiles a user of the emulated org can have. Each profile is a set of grants
 * (security/permissions.ts); only what the product can meet is modelled.
 *
 * - "System Administrator": View All Data and Modify All Data (record access to everything),
 *   API Enabled, Edit Tasks, Customize Application, Manage Users, View Setup; full object
 *   permissions; field-level security on the standard fields. Custom fields deployed through the
 *   Metadata API get no field-level security on any profile unless the deploy carries it (a
 *   permission set or the profile): the emulator gives this profile none on custom fields
 *   (stricter where unsure).
 * - "Standard User": API Enabled, Edit Tasks, field-level security on the standard fields.
 * - "Salesforce API Only System Integrations": the profile of the Salesforce Integration user
 *   license. "The new profile is essentially the 'Minimum Access', with even less access … You do
 *   not want this profile to have any permissions at all" (lietzau-consulting.de, "Setup
 *   Salesforce Integration User License", 2023; admin.salesforce.com, "Best Practices for
 *   Configuring Your Integration User"): API access only; everything else comes from permission
 *   sets. No field-level security on optional standard fields either (stricter where unsure).
 * - "Minimum Access - Salesforce": nothing, not even API access.
 *
 * User External Credentials: "Most standard permission sets and profiles have access to the User
 * External Credentials object by default. For the guest user profile, and for some custom
 * permission sets and profiles, you must assign User External Credentials object permissions
 * manually" (Salesforce Help, "Enable User External Credentials"). The two full-licence profiles
 * have Read on UserExternalCredential; the API-only integration profile has not (stricter).
 */
import { FULL_OBJECT_ACCESS, emptyGrants, type Grants } from './permissions';

export interface ProfileDef {
  name: string;
  grants: Grants;
  /** Field-level security on every optional standard field (custom fields need their own grant). */
  standardFields: 'none' | 'read' | 'edit';
  /** Field-level security on every custom field (only the emulator's test profile has it). */
  customFields?: 'none' | 'read' | 'edit';
  /** Full object permissions on every object (System Administrator). */
  allObjects: boolean;
}

export const SYSTEM_ADMINISTRATOR = 'System Administrator';
export const STANDARD_USER = 'Standard User';
export const API_ONLY_INTEGRATIONS = 'Salesforce API Only System Integrations';
export const MINIMUM_ACCESS = 'Minimum Access - Salesforce';
/**
 * Not a Salesforce profile: the emulator's own suites use it for users whose tests are about wire
 * formats, not access (every object, field and record). Never give it to a product user.
 */
export const EMULATOR_FULL_ACCESS = 'Emulator Full Access (test only)';

const USER_EXTERNAL_CREDENTIAL_READ = {
  allowRead: true,
  allowCreate: false,
  allowEdit: false,
  allowDelete: false,
  viewAllRecords: false,
  modifyAllRecords: false,
};

function profile(
  name: string,
  userPermissions: string[],
  options: Partial<Pick<ProfileDef, 'standardFields' | 'allObjects'>> & { userExternalCredential?: boolean },
): ProfileDef {
  const grants = emptyGrants();
  for (const p of userPermissions) grants.userPermissions.add(p);
  if (options.userExternalCredential)
    grants.objectPermissions.set('userexternalcredential', USER_EXTERNAL_CREDENTIAL_READ);
  return {
    name,
    grants,
    standardFields: options.standardFields ?? 'none',
    allObjects: options.allObjects ?? false,
  };
}

export function standardProfiles(): Map<string, ProfileDef> {
  const admin = profile(
    SYSTEM_ADMINISTRATOR,
    [
      'ApiEnabled',
      'EditTask',
      'ViewAllData',
      'ModifyAllData',
      'CustomizeApplication',
      'ManageUsers',
      'ViewSetup',
      'ManageFlow',
    ],
    { standardFields: 'edit', allObjects: true },
  );
  admin.grants.objectPermissions.set('userexternalcredential', { ...FULL_OBJECT_ACCESS });
  const fullAccess: ProfileDef = {
    ...profile(EMULATOR_FULL_ACCESS, [...admin.grants.userPermissions], {
      standardFields: 'edit',
      allObjects: true,
    }),
    customFields: 'edit',
  };
  fullAccess.grants.objectPermissions.set('userexternalcredential', { ...FULL_OBJECT_ACCESS });
  return new Map(
    [
      admin,
      profile(STANDARD_USER, ['ApiEnabled', 'EditTask'], {
        standardFields: 'edit',
        userExternalCredential: true,
      }),
      profile(API_ONLY_INTEGRATIONS, ['ApiEnabled'], {}),
      profile(MINIMUM_ACCESS, [], {}),
      fullAccess,
    ].map((p) => [p.name.toLowerCase(), p]),
  );
}

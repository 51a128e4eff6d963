import type { Link } from '../../../proxy/src/sync';
import { EMPTY_SIDE } from '../../../proxy/src/sync/link';
import { saveLink } from '../../../proxy/src/store/links';
import { saveLinks, type LinkToSave } from '../../../proxy/src/store/links-bulk';
import { createTestDatabase, type TestDatabase } from '../../support/database';

function link(custompmsId: string | null, salesforceId: string | null, title = 'x'): Link {
  return {
    flow: 'tasks',
    custompmsId,
    salesforceId,
    status: 'active',
    snapshot: { custompms: { title }, salesforce: { Subject: title } },
    custompms: EMPTY_SIDE,
    salesforce: EMPTY_SIDE,
  } as unknown as Link;
}

/** The links table as comparable rows. */
async function rows(db: TestDatabase): Promise<unknown[]> {
  const result = await db.pool.query(
    `SELECT flow, custompms_id, salesforce_id, link, salesforce_status FROM links ORDER BY custompms_id, salesforce_id`,
  );
  return result.rows;
}

/** The same links saved in a set (one database) and one by one with saveLink (the other). */
async function both(set: TestDatabase, single: TestDatabase, links: LinkToSave[]): Promise<void> {
  await saveLinks(set.pool, links);
  for (const { link: each, salesforceStatus } of links) await saveLink(single.pool, each, salesforceStatus);
}

describe('saveLinks (links in sets)', () => {
  let set: TestDatabase;
  let single: TestDatabase;
  beforeAll(async () => {
    [set, single] = await Promise.all([
      createTestDatabase({ migrated: true }),
      createTestDatabase({ migrated: true }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([set.drop(), single.drop()]);
  });
  beforeEach(async () => {
    await Promise.all([set.pool.query('DELETE FROM links'), single.pool.query('DELETE FROM links')]);
  });

  it('inserts and replaces exactly as saveLink one by one does', async () => {
    const first: LinkToSave[] = [
      { link: link('c1', null) },
      { link: link('c2', '00T000000000001AAA'), salesforceStatus: 'Synced' },
      { link: link(null, '00T000000000002AAA') },
    ];
    await both(set, single, first);
    expect(await rows(set)).toEqual(await rows(single));
    // Found by the Custompms id (now with its Salesforce id), by the Salesforce id (now with its
    // Custompms id), a status kept when none is given, and a new one.
    const second: LinkToSave[] = [
      { link: link('c1', '00T000000000003AAA', 'y'), salesforceStatus: 'Synced' },
      { link: link('c3', '00T000000000002AAA', 'z') },
      { link: link('c2', '00T000000000001AAA', 'w') },
      { link: link('c4', '00T000000000004AAA') },
    ];
    await both(set, single, second);
    expect(await rows(set)).toEqual(await rows(single));
    expect(await rows(set)).toHaveLength(4);
  });

  it('saves one by one, in order, links that would replace the same row', async () => {
    await both(set, single, [{ link: link('c1', '00T000000000001AAA') }]);
    // c1 moves to another Task and c2 takes over c1's old Task: both find c1's row.
    const takeover: LinkToSave[] = [
      { link: link('c1', '00T000000000009AAA') },
      { link: link('c2', '00T000000000001AAA') },
    ];
    await both(set, single, takeover);
    expect(await rows(set)).toEqual(await rows(single));
    expect(await rows(set)).toHaveLength(2);
  });
});

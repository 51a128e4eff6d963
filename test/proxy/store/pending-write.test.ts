/**
 * A pending write stored as JSON (outbox, change batches, backfill items) is validated when read
 * back: the declared shape comes back as is, anything else fails with a named error.
 */
import { InvalidStoredWriteError, parsePendingWrite } from '../../../proxy/src/store/pending-write';
import { pendingWrite } from '../../support/pending-write';

describe('stored pending writes', () => {
  it('reads back a valid one unchanged (JSON round trip)', () => {
    const stored = pendingWrite('tasks', 'tsk_1', { Subject: 'Ship it', ActivityDate: null });
    expect(parsePendingWrite(JSON.parse(JSON.stringify(stored)), 'outbox')).toEqual(stored);
  });

  it('keeps keys it does not know (a newer proxy may add some)', () => {
    const stored = { ...pendingWrite('projects', 'prj_1'), pairs: true, note: 'kept' };
    expect(parsePendingWrite(stored, 'backfill_items')).toEqual(stored);
  });

  it('refuses a row that is not a pending write, naming the table and the fields', () => {
    expect(() => parsePendingWrite({}, 'outbox')).toThrow(InvalidStoredWriteError);
    const broken = { ...pendingWrite('tasks', 'tsk_1'), write: { side: 'elsewhere' } };
    expect(() => parsePendingWrite(broken, 'change_batches')).toThrow(/change_batches.*write\.side/);
  });
});

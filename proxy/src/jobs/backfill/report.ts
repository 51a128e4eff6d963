/**
 * The backfill's final summary as plain text (the CLI prints it on stdout): one row per flow with
 * its counters, then the most frequent failure reasons and where their details are stored.
 */
import { BACKFILL_PROBLEM_TASK } from '../../store/backfill';
import type { BackfillProgress, BackfillReport } from './types';

const COLUMNS = ['linked', 'created', 'updated', 'unchanged', 'skipped', 'failed'] as const;

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
        .join('  '),
    )
    .join('\n');
}

/** Renders a report: counters per flow, failure reasons, examples (dry run), storage hints. */
export function formatBackfillReport(report: BackfillReport): string {
  const lines: string[] = [];
  lines.push(report.dryRun ? 'Backfill dry run: nothing was written. It would do:' : 'Backfill summary:');
  lines.push('');
  lines.push(
    table([
      ['flow', 'read', ...COLUMNS],
      ...report.flows.map((flow) => [
        flow.flow,
        String(flow.read),
        ...COLUMNS.map((column) => String(flow.counters[column])),
      ]),
    ]),
  );
  for (const flow of report.flows) {
    if (flow.note) lines.push('', `${flow.flow}: ${flow.note}`);
    if (flow.resumed)
      lines.push('', `${flow.flow}: resumed run ${flow.runId} (counters include the work before the crash)`);
    if (flow.reasons.length > 0) {
      lines.push('', `${flow.flow}: failure reasons`);
      for (const reason of flow.reasons) {
        lines.push(
          `  ${String(reason.count).padStart(6)}  ${reason.code}  e.g. ${reason.example.slice(0, 160)}`,
        );
      }
      if (flow.runId !== null) {
        lines.push(
          `  details: SELECT * FROM sync_problems WHERE task = '${BACKFILL_PROBLEM_TASK}' AND payload->>'runId' = '${flow.runId}'`,
        );
      }
    }
    if (report.dryRun && flow.examples.length > 0) {
      lines.push('', `${flow.flow}: examples`);
      for (const entry of flow.examples) {
        lines.push(
          `  ${entry.outcome.padEnd(6)} ${entry.custompmsId}${entry.salesforceId ? ` ⇄ ${entry.salesforceId}` : ''}  ${entry.detail.slice(0, 160)}`,
        );
      }
    }
    if (flow.bulkJobs.length > 0) lines.push('', `${flow.flow}: Bulk API jobs ${flow.bulkJobs.join(', ')}`);
  }
  lines.push('', report.failed > 0 ? `${report.failed} record(s) failed.` : 'No record failed.');
  return lines.join('\n') + '\n';
}

/** One plain progress line (when stderr is not a terminal). */
export function formatProgressLine(progress: BackfillProgress): string {
  const counters = COLUMNS.map((column) => `${column}=${progress.counters[column]}`).join(' ');
  return `backfill ${progress.flow} ${progress.phase}: read=${progress.read} pending=${progress.pending} ${counters}\n`;
}

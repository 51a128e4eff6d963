/**
 * The console's pages: plain server-rendered HTML (no client framework), one stylesheet and one
 * small script for the charts (uPlot). Every form carries the session's CSRF token; every input
 * has a label; tables scroll sideways on a phone instead of overflowing the page.
 *
 * One module per area (layout, overview, problems, links and conflicts, settings); this re-exports
 * what the router and the tests import, so they keep importing from './views'.
 */
export {
  csrfField,
  duration,
  layout,
  notFoundPage,
  refusedPage,
  signInPage,
  when,
  type PageContext,
} from './layout';
export { overviewPage } from './overview';
export { confirmBulkPage, problemPage, problemsPage, type ProblemFilterView } from './problems';
export { conflictsPage, linkPage, linksPage } from './links';
export { settingsPage } from './settings';

/**
 * Every background task the worker knows, by name. Features register their tasks here.
 */
import type { TaskList } from 'graphile-worker';

export function buildTaskList(): TaskList {
  return {};
}

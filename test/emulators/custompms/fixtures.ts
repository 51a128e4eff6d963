/**
 * Plausible, deterministic demo data for the reference server: customers, their projects and
 * those projects' tasks, in the shapes of the contract. Used by the demo, benchmarks and tests
 * that need volume rather than particular values.
 */
import type { Customer, Project, ResourceMap, Task } from '../../../proxy/src/custompms/types';
import { PRIORITIES, PROJECT_STATUSES, TASK_STATUSES } from '../../../proxy/src/custompms/types';
import { seededRandom } from './faults';
import type { EmulatorControls } from './server';

export interface DemoCounts {
  customers: number;
  /** Projects per customer. */
  projectsPerCustomer: number;
  /** Tasks per project. */
  tasksPerProject: number;
}

const NAMES = [
  'Acme',
  'Globex',
  'Initech',
  'Umbrella',
  'Hooli',
  'Stark',
  'Wayne',
  'Wonka',
  'Tyrell',
  'Cyberdyne',
];
const WORDS = [
  'Migration',
  'Rollout',
  'Audit',
  'Redesign',
  'Upgrade',
  'Onboarding',
  'Integration',
  'Cleanup',
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)]!;
}

function isoDate(random: () => number): string {
  const day = new Date(Date.UTC(2026, 0, 1) + Math.floor(random() * 365) * 86_400_000);
  return day.toISOString().slice(0, 10);
}

/** A customer body (no id), varied by `index`. */
export function demoCustomer(index: number, random = seededRandom(index + 1)): Partial<Customer> {
  return {
    name: `${pick(random, NAMES)} ${index}`,
    customer_number: `C-${String(index).padStart(6, '0')}`,
    email: `contact${index}@example.com`,
    phone: `+1-555-${String(index % 10_000).padStart(4, '0')}`,
    is_active: random() > 0.1,
  };
}

export function demoProject(
  customerId: string,
  index: number,
  random = seededRandom(index + 7),
): Partial<Project> {
  return {
    customer_id: customerId,
    name: `${pick(random, WORDS)} ${index}`,
    description: `Project ${index} for ${customerId}`,
    status: pick(random, PROJECT_STATUSES),
    priority: pick(random, PRIORITIES),
    start_date: isoDate(random),
    due_date: isoDate(random),
    owner_email: `owner${index % 25}@example.com`,
  };
}

export function demoTask(projectId: string, index: number, random = seededRandom(index + 13)): Partial<Task> {
  return {
    project_id: projectId,
    title: `${pick(random, WORDS)} step ${index}`,
    description: random() > 0.5 ? `Details of task ${index}` : null,
    status: pick(random, TASK_STATUSES),
    priority: pick(random, PRIORITIES),
    due_date: isoDate(random),
    assignee_email: `user${index % 50}@example.com`,
    estimated_hours: Math.round(random() * 400) / 10,
  };
}

/** Seeds a consistent tree of records (no webhooks) and returns what it made. */
export function seedDemoData(
  controls: EmulatorControls,
  counts: DemoCounts,
): { [K in keyof ResourceMap]: ResourceMap[K][] } {
  const customers = controls.seed(
    'customers',
    Array.from({ length: counts.customers }, (_, index) => demoCustomer(index)),
  );
  const projects = controls.seed(
    'projects',
    customers.flatMap((customer, c) =>
      Array.from({ length: counts.projectsPerCustomer }, (_, p) =>
        demoProject(customer.id, c * counts.projectsPerCustomer + p),
      ),
    ),
  );
  const tasks = controls.seed(
    'tasks',
    projects.flatMap((project, p) =>
      Array.from({ length: counts.tasksPerProject }, (_, t) =>
        demoTask(project.id, p * counts.tasksPerProject + t),
      ),
    ),
  );
  return { customers, projects, tasks };
}

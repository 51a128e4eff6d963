/**
 * Interprets record-triggered Flows read from metadata: the start element's object, trigger
 * (RecordAfterSave), record trigger type (Create / Update / CreateAndUpdate), entry filters with
 * their filter logic (`and`, `or`, or a custom `1 AND (2 OR 3)`), "only when updated to meet the
 * criteria", then the path from the start connector through decisions (`$Record.X`,
 * `$Record__Prior.X`, `$Permission.X`) to action calls. Elements the emulator cannot run
 * (assignments, record updates, formulas, ...) stop the path with a warning rather than being
 * guessed at.
 */
import type { StoredRecord, Value } from '../data/values';
import type { FlowDef, FlowValue } from '../schema/flow-def';
import type { ObjectDef } from '../schema/types';
import { parseDate, parseDateTime } from '../time';

export interface FlowAction {
  flow: string;
  element: string;
  actionType: string;
  actionName: string;
}

export interface FlowRun {
  actions: FlowAction[];
  warnings: string[];
}

export interface FlowContext {
  object: ObjectDef;
  event: 'create' | 'update';
  record: StoredRecord;
  prior?: StoredRecord;
  hasCustomPermission(name: string): boolean;
}

function literal(object: ObjectDef, fieldName: string | undefined, value: FlowValue): Value {
  switch (value.kind) {
    case 'none':
      return null;
    case 'date':
      return parseDate(value.value) ?? null;
    case 'dateTime':
      return parseDateTime(value.value) ?? null;
    case 'reference':
      return value.value;
    case 'string': {
      const def = fieldName ? object.index.get(fieldName.toLowerCase()) : undefined;
      if (def?.type === 'date') return parseDate(value.value) ?? value.value;
      if (def?.type === 'datetime') return parseDateTime(value.value) ?? value.value;
      return value.value;
    }
    default:
      return value.value;
  }
}

function compare(
  operator: string,
  left: Value,
  right: Value,
  priorLeft: Value | undefined,
  event: string,
): boolean | undefined {
  switch (operator) {
    case 'EqualTo':
      return left === right || (left === null && right === '');
    case 'NotEqualTo':
      return !(left === right || (left === null && right === ''));
    case 'IsNull':
      return (left === null) === (right === true);
    case 'IsBlank':
      return (left === null || left === '') === (right === true);
    case 'GreaterThan':
      return left !== null && right !== null && left > right;
    case 'GreaterThanOrEqualTo':
      return left !== null && right !== null && left >= right;
    case 'LessThan':
      return left !== null && right !== null && left < right;
    case 'LessThanOrEqualTo':
      return left !== null && right !== null && left <= right;
    case 'Contains':
      return typeof left === 'string' && typeof right === 'string' && left.includes(right);
    case 'StartsWith':
      return typeof left === 'string' && typeof right === 'string' && left.startsWith(right);
    case 'EndsWith':
      return typeof left === 'string' && typeof right === 'string' && left.endsWith(right);
    case 'IsChanged': {
      const changed = event === 'create' ? left !== null : left !== priorLeft;
      return changed === (right === true);
    }
    default:
      return undefined;
  }
}

/** Evaluates custom filter logic such as `1 AND (2 OR NOT 3)`. */
export function evaluateLogic(logic: string, results: boolean[]): boolean {
  const normalized = logic.trim().toLowerCase();
  if (normalized === 'and') return results.every(Boolean);
  if (normalized === 'or') return results.some(Boolean);
  const tokens = logic.match(/\d+|\(|\)|AND|OR|NOT/gi) ?? [];
  let pos = 0;
  const expr = (): boolean => {
    let value = term();
    while (tokens[pos]?.toUpperCase() === 'OR') {
      pos += 1;
      const right = term();
      value = value || right;
    }
    return value;
  };
  const term = (): boolean => {
    let value = factor();
    while (tokens[pos]?.toUpperCase() === 'AND') {
      pos += 1;
      const right = factor();
      value = value && right;
    }
    return value;
  };
  const factor = (): boolean => {
    const token = tokens[pos++];
    if (token === undefined) throw new Error(`bad filter logic: ${logic}`);
    if (token.toUpperCase() === 'NOT') return !factor();
    if (token === '(') {
      const value = expr();
      if (tokens[pos++] !== ')') throw new Error(`bad filter logic: ${logic}`);
      return value;
    }
    const n = Number(token);
    const result = results[n - 1];
    if (result === undefined) throw new Error(`filter logic names condition ${n}, which does not exist`);
    return result;
  };
  const value = expr();
  if (pos !== tokens.length) throw new Error(`bad filter logic: ${logic}`);
  return value;
}

function meetsEntry(
  flow: FlowDef,
  ctx: FlowContext,
  record: StoredRecord,
  prior: StoredRecord | undefined,
): boolean {
  const { start } = flow;
  const results = start.filters.map((filter) => {
    const def = ctx.object.index.get(filter.field.toLowerCase());
    if (!def) throw new Error(`entry filter names ${filter.field}, which ${ctx.object.name} does not have`);
    const left = record[def.name] ?? null;
    const right = literal(ctx.object, def.name, filter.value);
    const result = compare(filter.operator, left, right, prior?.[def.name] ?? null, ctx.event);
    if (result === undefined) throw new Error(`entry filter operator ${filter.operator} is not supported`);
    return result;
  });
  if (!results.length) return true;
  return evaluateLogic(start.filterLogic ?? 'and', results);
}

function resolveReference(reference: string, ctx: FlowContext): Value {
  const [head, ...rest] = reference.split('.');
  const name = rest.join('.');
  if (head === '$Permission') return ctx.hasCustomPermission(name);
  if (head === '$Record' || head === '$Record__Prior') {
    const row = head === '$Record' ? ctx.record : ctx.prior;
    if (!row) return null;
    const def = ctx.object.index.get(name.toLowerCase());
    if (!def) throw new Error(`${reference}: no such field on ${ctx.object.name}`);
    return row[def.name] ?? null;
  }
  throw new Error(`reference ${reference} is not supported by the emulator`);
}

function triggerMatches(flow: FlowDef, ctx: FlowContext): boolean {
  const { start } = flow;
  if (flow.status !== 'Active') return false;
  if (start.object?.toLowerCase() !== ctx.object.name.toLowerCase()) return false;
  if (start.triggerType !== 'RecordAfterSave') return false;
  const type = start.recordTriggerType;
  return (
    type === 'CreateAndUpdate' ||
    (type === 'Create' && ctx.event === 'create') ||
    (type === 'Update' && ctx.event === 'update')
  );
}

/** Runs every matching flow for one saved record; returns the actions to perform. */
export function runRecordTriggeredFlows(flows: Iterable<FlowDef>, ctx: FlowContext): FlowRun {
  const run: FlowRun = { actions: [], warnings: [] };
  for (const flow of flows) {
    if (!triggerMatches(flow, ctx)) continue;
    try {
      if (flow.start.filterFormula) {
        run.warnings.push(`${flow.apiName}: formula entry criteria are not interpreted; flow skipped`);
        continue;
      }
      if (!meetsEntry(flow, ctx, ctx.record, ctx.prior)) continue;
      if (
        flow.start.doesRequireRecordChangedToMeetCriteria &&
        ctx.event === 'update' &&
        ctx.prior &&
        meetsEntry(flow, ctx, ctx.prior, undefined)
      ) {
        continue;
      }
      const starts = [flow.start.connector, ...flow.start.scheduledPaths.map((p) => p.connector)];
      for (const first of starts) walk(flow, first, ctx, run);
    } catch (error) {
      run.warnings.push(`${flow.apiName}: ${(error as Error).message}`);
    }
  }
  return run;
}

function walk(flow: FlowDef, first: string | undefined, ctx: FlowContext, run: FlowRun): void {
  let current = first;
  const visited = new Set<string>();
  while (current) {
    if (visited.has(current)) throw new Error(`loop at ${current}`);
    visited.add(current);
    const element = flow.elements.get(current);
    if (!element) throw new Error(`connector names ${current}, which the flow does not define`);
    if (element.kind === 'unsupported') {
      run.warnings.push(
        `${flow.apiName}: element ${element.name} (${element.elementType}) is not run by the emulator; path stopped`,
      );
      return;
    }
    if (element.kind === 'actionCall') {
      run.actions.push({
        flow: flow.apiName,
        element: element.name,
        actionType: element.actionType,
        actionName: element.actionName,
      });
      current = element.connector;
      continue;
    }
    let next = element.defaultConnector;
    for (const rule of element.rules) {
      const results = rule.conditions.map((c) => {
        const left = resolveReference(c.leftValueReference, ctx);
        const fieldName = c.leftValueReference.startsWith('$Record')
          ? c.leftValueReference.split('.')[1]
          : undefined;
        const right =
          c.rightValue.kind === 'reference'
            ? resolveReference(c.rightValue.value, ctx)
            : literal(ctx.object, fieldName, c.rightValue);
        const priorLeft = fieldName && ctx.prior ? (ctx.prior[fieldName] ?? null) : undefined;
        const result = compare(c.operator, left, right, priorLeft, ctx.event);
        if (result === undefined) throw new Error(`decision operator ${c.operator} is not supported`);
        return result;
      });
      if (evaluateLogic(rule.conditionLogic, results)) {
        next = rule.connector;
        break;
      }
    }
    current = next;
  }
}

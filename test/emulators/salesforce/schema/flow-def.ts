/**
 * A record-triggered Flow as data: the parts of Flow metadata (Metadata API "Flow") the emulator
 * interprets — the start element's trigger, entry filters and connectors, decision elements and
 * action calls. Anything else is kept as an opaque element so the interpreter can say what it
 * could not run instead of guessing.
 */
import { child, childBool, childText, children, type XmlNode, type XmlValue } from '../xml';

export type FlowValue =
  | { kind: 'string'; value: string }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'number'; value: number }
  | { kind: 'date'; value: string }
  | { kind: 'dateTime'; value: string }
  | { kind: 'reference'; value: string }
  | { kind: 'none' };

export interface FlowFilter {
  field: string;
  operator: string;
  value: FlowValue;
}

export interface FlowCondition {
  leftValueReference: string;
  operator: string;
  rightValue: FlowValue;
}

export interface FlowRule {
  name: string;
  conditionLogic: string;
  conditions: FlowCondition[];
  connector?: string;
}

export type FlowElement =
  | { kind: 'decision'; name: string; rules: FlowRule[]; defaultConnector?: string }
  | { kind: 'actionCall'; name: string; actionType: string; actionName: string; connector?: string }
  | { kind: 'unsupported'; name: string; elementType: string; connector?: string };

export interface FlowStart {
  object?: string;
  triggerType?: string;
  recordTriggerType?: string;
  filterLogic?: string;
  filters: FlowFilter[];
  /** Formula entry criteria are not interpreted; their presence is recorded. */
  filterFormula?: string;
  connector?: string;
  scheduledPaths: { pathType?: string; connector?: string }[];
  doesRequireRecordChangedToMeetCriteria: boolean;
}

export interface FlowDef {
  apiName: string;
  label: string;
  processType?: string;
  status: string;
  /** Set when deployed: the version number this deploy created. */
  versionNumber?: number;
  /** The status the deployed metadata carried (status may differ: deployed inactive). */
  deployedStatus?: string;
  start: FlowStart;
  elements: Map<string, FlowElement>;
}

function target(node: XmlValue, name: string): string | undefined {
  return childText(child(node, name), 'targetReference');
}

export function flowValue(node: XmlValue): FlowValue {
  if (!node || typeof node !== 'object') return { kind: 'none' };
  const s = childText(node, 'stringValue');
  if (s !== undefined) return { kind: 'string', value: s };
  const b = childText(node, 'booleanValue');
  if (b !== undefined) return { kind: 'boolean', value: b === 'true' };
  const n = childText(node, 'numberValue');
  if (n !== undefined) return { kind: 'number', value: Number(n) };
  const d = childText(node, 'dateValue');
  if (d !== undefined) return { kind: 'date', value: d };
  const dt = childText(node, 'dateTimeValue');
  if (dt !== undefined) return { kind: 'dateTime', value: dt };
  const r = childText(node, 'elementReference');
  if (r !== undefined) return { kind: 'reference', value: r };
  return { kind: 'none' };
}

/** Flow elements the emulator carries without running them (it runs actionCalls and decisions). */
export const OPAQUE_ELEMENTS = [
  'assignments',
  'recordCreates',
  'recordUpdates',
  'recordLookups',
  'recordDeletes',
  'loops',
  'subflows',
  'screens',
  'waits',
  'collectionProcessors',
  'customErrors',
  'transforms',
];

/** Every Flow element kind a deploy checks the references of. */
export const FLOW_ELEMENT_KINDS = ['actionCalls', 'decisions', ...OPAQUE_ELEMENTS];

/** Reads Flow metadata (the content of `<Flow>`). */
export function parseFlow(apiName: string, content: XmlNode): FlowDef {
  const startNode = child(content, 'start');
  const start: FlowStart = {
    object: childText(startNode, 'object'),
    triggerType: childText(startNode, 'triggerType'),
    recordTriggerType: childText(startNode, 'recordTriggerType'),
    filterLogic: childText(startNode, 'filterLogic'),
    filters: children(startNode, 'filters').map((f) => ({
      field: childText(f, 'field') ?? '',
      operator: childText(f, 'operator') ?? '',
      value: flowValue(child(f, 'value')),
    })),
    filterFormula: childText(startNode, 'filterFormula'),
    connector: target(startNode, 'connector'),
    scheduledPaths: children(startNode, 'scheduledPaths').map((p) => ({
      pathType: childText(p, 'pathType'),
      connector: target(p, 'connector'),
    })),
    doesRequireRecordChangedToMeetCriteria:
      childBool(startNode, 'doesRequireRecordChangedToMeetCriteria') ?? false,
  };
  const elements = new Map<string, FlowElement>();
  for (const d of children(content, 'decisions')) {
    const name = childText(d, 'name') ?? '';
    elements.set(name, {
      kind: 'decision',
      name,
      defaultConnector: target(d, 'defaultConnector'),
      rules: children(d, 'rules').map((r) => ({
        name: childText(r, 'name') ?? '',
        conditionLogic: childText(r, 'conditionLogic') ?? 'and',
        connector: target(r, 'connector'),
        conditions: children(r, 'conditions').map((c) => ({
          leftValueReference: childText(c, 'leftValueReference') ?? '',
          operator: childText(c, 'operator') ?? '',
          rightValue: flowValue(child(c, 'rightValue')),
        })),
      })),
    });
  }
  for (const a of children(content, 'actionCalls')) {
    const name = childText(a, 'name') ?? '';
    elements.set(name, {
      kind: 'actionCall',
      name,
      actionType: childText(a, 'actionType') ?? '',
      actionName: childText(a, 'actionName') ?? '',
      connector: target(a, 'connector'),
    });
  }
  for (const elementType of OPAQUE_ELEMENTS) {
    for (const e of children(content, elementType)) {
      const name = childText(e, 'name') ?? '';
      elements.set(name, { kind: 'unsupported', name, elementType, connector: target(e, 'connector') });
    }
  }
  return {
    apiName,
    label: childText(content, 'label') ?? apiName,
    processType: childText(content, 'processType'),
    status: childText(content, 'status') ?? 'Draft',
    start,
    elements,
  };
}

/**
 * The compile step's syntax half: every Apex class and trigger in a deploy is parsed with
 * @apexdevtools/apex-parser (the ANTLR grammar the Apex language server uses), and a syntax error
 * fails the component with its line and column, as a deploy's compile errors do
 * (DeployMessage `lineNumber`/`columnNumber`). Semantic checks (types, methods) are not modelled.
 *
 * Parsing is slow when cold (about 3 s for force-app's classes on this machine), and many suites
 * start an emulator, so verdicts are cached by the SHA-256 of the source in memory and in the OS
 * temp folder. A verdict depends only on the text and the parser version, so the cache cannot
 * change an answer.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ApexErrorListener, ApexParserFactory } from '@apexdevtools/apex-parser';

export interface ApexSyntaxError {
  /** 1-based. */
  line: number;
  /** 1-based (ANTLR counts from 0; deploy messages from 1). */
  column: number;
  message: string;
}

class CollectingListener extends ApexErrorListener {
  readonly errors: ApexSyntaxError[] = [];
  apexSyntaxError(line: number, column: number, message: string): void {
    this.errors.push({ line, column: column + 1, message: tidy(message) });
  }
}

/**
 * ANTLR lists every token it expected (hundreds for an expression); the Apex compiler says
 * "Unexpected token 'x'." Keep ANTLR's text when it is short, else the compiler's phrasing.
 */
function tidy(message: string): string {
  const token = /^(?:mismatched|extraneous) input ('(?:[^']|\\')*'|<EOF>)/.exec(message);
  if (token && message.length > 120) return `Unexpected token ${token[1]}.`;
  return message.length > 300 ? `${message.slice(0, 297)}...` : message;
}

const CACHE_DIR = path.join(tmpdir(), 'custompms-sf-emulator-cache', 'apex-syntax-v1');
const memory = new Map<string, ApexSyntaxError[]>();

/** Syntax errors of an Apex class (`class`) or trigger (`trigger`); empty when it parses. */
export function apexSyntaxErrors(source: string, kind: 'class' | 'trigger'): ApexSyntaxError[] {
  const key = createHash('sha256').update(kind).update('\0').update(source).digest('hex');
  const cached = memory.get(key);
  if (cached) return cached;
  const file = path.join(CACHE_DIR, `${key}.json`);
  try {
    const fromDisk = JSON.parse(readFileSync(file, 'utf8')) as ApexSyntaxError[];
    memory.set(key, fromDisk);
    return fromDisk;
  } catch {
    // not cached yet (or unreadable): parse
  }
  const listener = new CollectingListener();
  const { parser } = ApexParserFactory.createLexerAndParser(source, listener);
  if (kind === 'trigger') parser.triggerUnit();
  else parser.compilationUnit();
  const errors = listener.errors;
  memory.set(key, errors);
  try {
    mkdirSync(CACHE_DIR, { recursive: true });
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, JSON.stringify(errors));
    renameSync(partial, file);
  } catch {
    // a read-only temp folder only costs speed
  }
  return errors;
}

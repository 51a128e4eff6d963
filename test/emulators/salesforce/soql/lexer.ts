/**
 * SOQL tokenizer. Keywords are case-insensitive; string literals use single quotes with
 * backslash escapes (`\'`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`, `\"`, and `\%`/`\_` kept for LIKE);
 * date (`2026-11-25`) and datetime (`2026-11-25T10:00:00Z`, `…+01:00`) literals are unquoted
 * (SOQL and SOSL Reference, "Quoted String Escape Sequences", "Date Formats and Date Literals").
 */

export type TokenKind = 'ident' | 'string' | 'number' | 'date' | 'datetime' | 'punct' | 'eof';

export interface Token {
  kind: TokenKind;
  /** The text (for strings: the unescaped value; LIKE escapes `\%` `\_` stay escaped). */
  text: string;
  /** Offset of the token's first character. */
  offset: number;
}

export class SoqlError extends Error {
  constructor(
    readonly errorCode:
      | 'MALFORMED_QUERY'
      | 'INVALID_FIELD'
      | 'INVALID_TYPE'
      | 'INVALID_QUERY_FILTER_OPERATOR'
      | 'NUMBER_OUTSIDE_VALID_RANGE',
    readonly detail: string,
    readonly offset: number,
    query: string,
  ) {
    super(SoqlError.format(query, offset, detail));
  }

  /** Salesforce's layout: the query line, a caret under the column, the position, the detail. */
  static format(query: string, offset: number, detail: string): string {
    const before = query.slice(0, offset);
    const row = before.split('\n').length;
    const lineStart = before.lastIndexOf('\n') + 1;
    const lineEnd = query.indexOf('\n', offset);
    const line = query.slice(lineStart, lineEnd < 0 ? undefined : lineEnd);
    const column = offset - lineStart + 1;
    return `\n${line}\n${' '.repeat(column - 1)}^\nERROR at Row:${row}:Column:${column}\n${detail}`;
  }
}

const PUNCT = ['!=', '<>', '<=', '>=', '=', '<', '>', '(', ')', ',', '.', ':'];
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})/;
const DATE_RE = /^\d{4}-\d{2}-\d{2}(?![\dT])/;
const NUMBER_RE = /^-?\d+(\.\d+)?(?![\w])/;
const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*/;

const ESCAPES: Record<string, string> = {
  "'": "'",
  '"': '"',
  '\\': '\\',
  n: '\n',
  r: '\r',
  t: '\t',
  b: '\b',
  f: '\f',
};

export function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < query.length) {
    const c = query[i]!;
    if (/\s/.test(c)) {
      i += 1;
      continue;
    }
    const rest = query.slice(i);
    if (c === "'") {
      let value = '';
      let j = i + 1;
      let closed = false;
      while (j < query.length) {
        const ch = query[j]!;
        if (ch === '\\') {
          const next = query[j + 1];
          if (next === undefined) break;
          if (next === '%' || next === '_') value += `\\${next}`;
          else if (ESCAPES[next] !== undefined) value += ESCAPES[next];
          else
            throw new SoqlError(
              'MALFORMED_QUERY',
              `Invalid string literal '${query.slice(i, j + 2)}'. Illegal character sequence '\\${next}' in string literal.`,
              i,
              query,
            );
          j += 2;
          continue;
        }
        if (ch === "'") {
          closed = true;
          break;
        }
        value += ch;
        j += 1;
      }
      if (!closed)
        throw new SoqlError(
          'MALFORMED_QUERY',
          `line 1:${i} mismatched character '<EOF>' expecting '''`,
          i,
          query,
        );
      tokens.push({ kind: 'string', text: value, offset: i });
      i = j + 1;
      continue;
    }
    const dt = DATETIME_RE.exec(rest);
    if (dt) {
      tokens.push({ kind: 'datetime', text: dt[0], offset: i });
      i += dt[0].length;
      continue;
    }
    const d = DATE_RE.exec(rest);
    if (d) {
      tokens.push({ kind: 'date', text: d[0], offset: i });
      i += d[0].length;
      continue;
    }
    const n = NUMBER_RE.exec(rest);
    if (n && (c !== '-' || tokens.length === 0 || tokens[tokens.length - 1]!.kind === 'punct')) {
      tokens.push({ kind: 'number', text: n[0], offset: i });
      i += n[0].length;
      continue;
    }
    const id = IDENT_RE.exec(rest);
    if (id) {
      tokens.push({ kind: 'ident', text: id[0], offset: i });
      i += id[0].length;
      continue;
    }
    const p = PUNCT.find((op) => rest.startsWith(op));
    if (p) {
      tokens.push({ kind: 'punct', text: p, offset: i });
      i += p.length;
      continue;
    }
    throw new SoqlError('MALFORMED_QUERY', `unexpected token: '${c}'`, i, query);
  }
  tokens.push({ kind: 'eof', text: '<EOF>', offset: query.length });
  return tokens;
}

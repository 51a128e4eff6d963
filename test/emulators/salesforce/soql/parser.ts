/**
 * Recursive-descent parser for the SOQL subset the emulator answers:
 *
 *   query      := SELECT selectList FROM ident [WHERE cond] [ORDER BY order (',' order)*]
 *                 [LIMIT number] [OFFSET number] [FOR (VIEW|REFERENCE|UPDATE)]
 *   selectList := COUNT '(' ')' | path (',' path)*
 *   path       := ident ('.' ident)?            (one level of relationship, e.g. Owner.Email)
 *   cond       := unary ((AND unary)* | (OR unary)*)   (mixing AND/OR needs parentheses, as in SOQL)
 *   unary      := NOT unary | '(' cond ')' | path op value | path [NOT] IN '(' value (',' value)* ')'
 *               | path LIKE string
 *   value      := string | number | TRUE | FALSE | NULL | date | datetime | dateLiteral [':' number]
 *   order      := path [ASC|DESC] [NULLS (FIRST|LAST)]
 */
import { SoqlError, tokenize, type Token } from './lexer';

export type Literal =
  | { kind: 'string'; value: string }
  | { kind: 'number'; value: number }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'null' }
  | { kind: 'date'; value: string }
  | { kind: 'datetime'; value: string }
  | { kind: 'dateLiteral'; name: string; n?: number };

export interface FieldPath {
  /** Segments as written, e.g. ['Owner', 'Email']. */
  parts: string[];
  offset: number;
}

export type Condition =
  | { kind: 'and' | 'or'; items: Condition[] }
  | { kind: 'not'; item: Condition }
  | { kind: 'compare'; field: FieldPath; op: string; value: Literal; valueOffset: number }
  | { kind: 'in'; field: FieldPath; negated: boolean; values: Literal[]; valueOffset: number }
  | { kind: 'like'; field: FieldPath; pattern: string; valueOffset: number };

export interface OrderItem {
  field: FieldPath;
  descending: boolean;
  nullsLast: boolean;
}

export interface SoqlQuery {
  text: string;
  count: boolean;
  fields: FieldPath[];
  object: string;
  objectOffset: number;
  where?: Condition;
  orderBy: OrderItem[];
  limit?: number;
  offset?: number;
}

const RESERVED = new Set([
  'select',
  'from',
  'where',
  'and',
  'or',
  'not',
  'in',
  'like',
  'order',
  'by',
  'limit',
  'offset',
  'asc',
  'desc',
  'nulls',
  'first',
  'last',
  'null',
  'true',
  'false',
  'group',
  'having',
  'with',
  'for',
  'includes',
  'excludes',
]);

const DATE_LITERALS = new Set([
  'TODAY',
  'YESTERDAY',
  'TOMORROW',
  'LAST_WEEK',
  'THIS_WEEK',
  'NEXT_WEEK',
  'LAST_MONTH',
  'THIS_MONTH',
  'NEXT_MONTH',
  'LAST_90_DAYS',
  'NEXT_90_DAYS',
  'THIS_YEAR',
  'LAST_YEAR',
  'NEXT_YEAR',
]);
const DATE_LITERALS_N = new Set(['LAST_N_DAYS', 'NEXT_N_DAYS', 'N_DAYS_AGO', 'LAST_N_WEEKS', 'NEXT_N_WEEKS']);

class Parser {
  private pos = 0;
  private readonly tokens: Token[];

  constructor(private readonly query: string) {
    this.tokens = tokenize(query);
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)]!;
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'eof') this.pos += 1;
    return token;
  }

  private fail(token: Token, detail?: string): never {
    throw new SoqlError(
      'MALFORMED_QUERY',
      detail ?? `unexpected token: ${token.kind === 'eof' ? "'<EOF>'" : `'${token.text}'`}`,
      token.offset,
      this.query,
    );
  }

  private isKeyword(word: string, offset = 0): boolean {
    const token = this.peek(offset);
    return token.kind === 'ident' && token.text.toLowerCase() === word;
  }

  private expectKeyword(word: string): Token {
    if (!this.isKeyword(word)) this.fail(this.peek());
    return this.next();
  }

  private isPunct(p: string): boolean {
    const token = this.peek();
    return token.kind === 'punct' && token.text === p;
  }

  private expectPunct(p: string): Token {
    if (!this.isPunct(p)) this.fail(this.peek());
    return this.next();
  }

  private ident(): Token {
    const token = this.peek();
    if (token.kind !== 'ident' || RESERVED.has(token.text.toLowerCase())) this.fail(token);
    return this.next();
  }

  private path(): FieldPath {
    const first = this.ident();
    const parts = [first.text];
    while (this.isPunct('.')) {
      this.next();
      parts.push(this.ident().text);
    }
    return { parts, offset: first.offset };
  }

  parse(): SoqlQuery {
    this.expectKeyword('select');
    let count = false;
    const fields: FieldPath[] = [];
    if (this.isKeyword('count') && this.peek(1).kind === 'punct' && this.peek(1).text === '(') {
      this.next();
      this.expectPunct('(');
      if (!this.isPunct(')'))
        this.fail(this.peek(), 'COUNT(field) is not supported by the emulator; use COUNT()');
      this.expectPunct(')');
      count = true;
    } else {
      for (;;) {
        if (this.isPunct('('))
          this.fail(this.peek(), 'Relationship subqueries are not supported by the emulator');
        const start = this.peek();
        const path = this.path();
        if (this.isPunct('('))
          this.fail(
            start,
            `Aggregate and function calls are not supported by the emulator: ${path.parts.join('.')}`,
          );
        fields.push(path);
        if (!this.isPunct(',')) break;
        this.next();
      }
    }
    this.expectKeyword('from');
    const objectToken = this.ident();
    if (this.peek().kind === 'ident' && !RESERVED.has(this.peek().text.toLowerCase())) {
      this.fail(this.peek(), 'Object aliases are not supported by the emulator');
    }
    const query: SoqlQuery = {
      text: this.query,
      count,
      fields,
      object: objectToken.text,
      objectOffset: objectToken.offset,
      orderBy: [],
    };
    if (this.isKeyword('where')) {
      this.next();
      query.where = this.condition();
    }
    if (this.isKeyword('group') || this.isKeyword('having') || this.isKeyword('with')) {
      this.fail(this.peek(), `${this.peek().text.toUpperCase()} is not supported by the emulator`);
    }
    if (this.isKeyword('order')) {
      this.next();
      this.expectKeyword('by');
      for (;;) {
        const field = this.path();
        let descending = false;
        if (this.isKeyword('asc')) this.next();
        else if (this.isKeyword('desc')) {
          this.next();
          descending = true;
        }
        let nullsLast = descending;
        if (this.isKeyword('nulls')) {
          this.next();
          if (this.isKeyword('first')) nullsLast = false;
          else if (this.isKeyword('last')) nullsLast = true;
          else this.fail(this.peek());
          this.next();
        }
        query.orderBy.push({ field, descending, nullsLast });
        if (!this.isPunct(',')) break;
        this.next();
      }
    }
    if (this.isKeyword('limit')) {
      this.next();
      query.limit = this.nonNegativeInteger();
    }
    if (this.isKeyword('offset')) {
      this.next();
      const token = this.peek();
      query.offset = this.nonNegativeInteger();
      if (query.offset > 2000) {
        throw new SoqlError(
          'NUMBER_OUTSIDE_VALID_RANGE',
          'Maximum SOQL offset allowed is 2000',
          token.offset,
          this.query,
        );
      }
    }
    if (this.isKeyword('for')) {
      this.next();
      if (!['view', 'reference', 'update'].some((w) => this.isKeyword(w))) this.fail(this.peek());
      this.next();
    }
    if (this.peek().kind !== 'eof') this.fail(this.peek());
    return query;
  }

  private nonNegativeInteger(): number {
    const token = this.next();
    if (token.kind !== 'number' || !/^\d+$/.test(token.text)) this.fail(token);
    return Number(token.text);
  }

  private condition(): Condition {
    const first = this.unary();
    if (!this.isKeyword('and') && !this.isKeyword('or')) return first;
    const op = this.peek().text.toLowerCase() as 'and' | 'or';
    const items = [first];
    while (this.isKeyword('and') || this.isKeyword('or')) {
      const token = this.peek();
      if (token.text.toLowerCase() !== op) {
        // SOQL refuses `a AND b OR c`: the grouping must be explicit.
        this.fail(token);
      }
      this.next();
      items.push(this.unary());
    }
    return { kind: op, items };
  }

  private unary(): Condition {
    if (this.isKeyword('not')) {
      this.next();
      return { kind: 'not', item: this.unary() };
    }
    if (this.isPunct('(')) {
      this.next();
      const inner = this.condition();
      this.expectPunct(')');
      return inner;
    }
    const field = this.path();
    const token = this.peek();
    if (this.isKeyword('not') && this.isKeyword('in', 1)) {
      this.next();
      this.next();
      return this.inList(field, true);
    }
    if (this.isKeyword('in')) {
      this.next();
      return this.inList(field, false);
    }
    if (this.isKeyword('like')) {
      this.next();
      const value = this.peek();
      if (value.kind !== 'string') this.fail(value);
      this.next();
      return { kind: 'like', field, pattern: value.text, valueOffset: value.offset };
    }
    if (this.isKeyword('includes') || this.isKeyword('excludes')) {
      this.fail(token, 'INCLUDES/EXCLUDES are not supported by the emulator');
    }
    if (token.kind !== 'punct' || !['=', '!=', '<>', '<', '<=', '>', '>='].includes(token.text))
      this.fail(token);
    this.next();
    const valueToken = this.peek();
    const value = this.literal();
    return {
      kind: 'compare',
      field,
      op: token.text === '<>' ? '!=' : token.text,
      value,
      valueOffset: valueToken.offset,
    };
  }

  private inList(field: FieldPath, negated: boolean): Condition {
    const open = this.expectPunct('(');
    if (this.isKeyword('select'))
      this.fail(this.peek(), 'Semi-join subqueries are not supported by the emulator');
    const values: Literal[] = [this.literal()];
    while (this.isPunct(',')) {
      this.next();
      values.push(this.literal());
    }
    this.expectPunct(')');
    return { kind: 'in', field, negated, values, valueOffset: open.offset + 1 };
  }

  private literal(): Literal {
    const token = this.next();
    switch (token.kind) {
      case 'string':
        return { kind: 'string', value: token.text };
      case 'number':
        return { kind: 'number', value: Number(token.text) };
      case 'date':
        return { kind: 'date', value: token.text };
      case 'datetime':
        return { kind: 'datetime', value: token.text };
      case 'ident': {
        const upper = token.text.toUpperCase();
        if (upper === 'NULL') return { kind: 'null' };
        if (upper === 'TRUE' || upper === 'FALSE') return { kind: 'boolean', value: upper === 'TRUE' };
        if (DATE_LITERALS.has(upper)) return { kind: 'dateLiteral', name: upper };
        if (DATE_LITERALS_N.has(upper)) {
          this.expectPunct(':');
          const n = this.next();
          if (n.kind !== 'number' || !/^\d+$/.test(n.text)) this.fail(n);
          return { kind: 'dateLiteral', name: upper, n: Number(n.text) };
        }
        return this.fail(token);
      }
      case 'punct':
        if (token.text === ':') this.fail(token, 'Bind variables are only allowed in Apex code');
        return this.fail(token);
      default:
        return this.fail(token);
    }
  }
}

export function parseSoql(query: string): SoqlQuery {
  return new Parser(query).parse();
}

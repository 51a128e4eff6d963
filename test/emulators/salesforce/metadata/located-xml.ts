/**
 * Element positions for deploy messages. fast-xml-parser (xml.ts) gives the content but no line
 * numbers, and a Metadata API deploy reports `lineNumber`/`columnNumber` for a problem in a file:
 * this scanner walks an already-validated document (XMLValidator first) and records where each
 * element starts, so the validator can point at the element it rejects.
 */

export interface LocatedElement {
  /** Local name (prefix dropped). */
  name: string;
  /** 1-based line and column of the `<` that opens the element. */
  line: number;
  column: number;
  children: LocatedElement[];
  /** Concatenated character data directly inside the element (trimmed). */
  text: string;
}

/** Scans a well-formed document; returns its root element. */
export function locateElements(xml: string): LocatedElement {
  const lineStarts = [0];
  for (let i = 0; i < xml.length; i++) if (xml.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const position = (offset: number): { line: number; column: number } => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - lineStarts[lo]! + 1 };
  };
  const top: LocatedElement = { name: '#document', line: 1, column: 1, children: [], text: '' };
  const stack: LocatedElement[] = [top];
  const texts: string[][] = [[]];
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const chunk = xml.slice(i, lt < 0 ? xml.length : lt);
    if (chunk.trim()) texts[texts.length - 1]!.push(chunk);
    if (lt < 0) break;
    if (xml.startsWith('<!--', lt)) {
      i = xml.indexOf('-->', lt) + 3;
    } else if (xml.startsWith('<![CDATA[', lt)) {
      const end = xml.indexOf(']]>', lt);
      texts[texts.length - 1]!.push(xml.slice(lt + 9, end));
      i = end + 3;
    } else if (xml.startsWith('<?', lt) || xml.startsWith('<!', lt)) {
      i = xml.indexOf('>', lt) + 1;
    } else if (xml.startsWith('</', lt)) {
      const done = stack.pop()!;
      done.text = texts.pop()!.join('').trim();
      i = xml.indexOf('>', lt) + 1;
    } else {
      // Attribute values may hold '>' only when quoted; skip quoted runs to find the tag's end.
      let j = lt + 1;
      let quote = '';
      for (; j < xml.length; j++) {
        const c = xml[j]!;
        if (quote) {
          if (c === quote) quote = '';
        } else if (c === '"' || c === "'") quote = c;
        else if (c === '>') break;
      }
      const tag = xml.slice(lt + 1, j);
      const selfClosing = tag.endsWith('/');
      const qname = /^[^\s/>]+/.exec(tag)?.[0] ?? '';
      const colon = qname.indexOf(':');
      const element: LocatedElement = {
        name: colon < 0 ? qname : qname.slice(colon + 1),
        ...position(lt),
        children: [],
        text: '',
      };
      stack[stack.length - 1]!.children.push(element);
      if (!selfClosing) {
        stack.push(element);
        texts.push([]);
      }
      i = j + 1;
    }
  }
  const root = top.children[0];
  if (!root) throw new Error('document has no root element');
  return root;
}

/** Direct children with a local name. */
export function located(parent: LocatedElement | undefined, name: string): LocatedElement[] {
  return parent ? parent.children.filter((c) => c.name === name) : [];
}

/** The first direct child with a local name. */
export function locatedOne(parent: LocatedElement | undefined, name: string): LocatedElement | undefined {
  return parent?.children.find((c) => c.name === name);
}

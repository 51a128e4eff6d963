/**
 * The docs cannot drift from the code: every variable the config schema reads is in the README's
 * table and in app.json (Heroku), and nothing else is; the mapping tables are generated from the
 * mapping definition; links stay inside the repository; every code the proxy reports is explained.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { environmentSchema } from '../../proxy/src/config';
import { MAPPING_DOC, renderMappingDoc } from '../../scripts/generate-docs';

const root = path.resolve(__dirname, '../..');
const variables = Object.keys(environmentSchema.shape).sort();

describe('configuration docs', () => {
  it('README documents every variable in its config table', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const documented = [...readme.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((match) => match[1]).sort();
    expect(documented).toEqual(variables);
  });

  it('app.json declares every variable Heroku should set (PORT and DATABASE_URL come from Heroku)', () => {
    const app = JSON.parse(readFileSync(path.join(root, 'app.json'), 'utf8')) as {
      env: Record<string, unknown>;
    };
    expect(Object.keys(app.env).sort()).toEqual(
      variables.filter((name) => name !== 'PORT' && name !== 'DATABASE_URL'),
    );
  });

  it('Procfile runs migrations at release and both process types, with node itself (signals reach it)', () => {
    const procfile = readFileSync(path.join(root, 'Procfile'), 'utf8');
    expect(procfile).toMatch(/^release: node dist\/proxy\/src\/cli\/index\.js migrate$/m);
    expect(procfile).toMatch(/^web: node dist\/proxy\/src\/server\.js$/m);
    expect(procfile).toMatch(/^worker: node dist\/proxy\/src\/worker\.js$/m);
  });
});

/** Markdown files a user of the repository reads. */
function markdownFiles(): string[] {
  const docs = readdirSync(path.join(root, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.md'))
    .map((file) => path.join('docs', file));
  return ['README.md', ...docs];
}

describe('the docs stand alone', () => {
  it('docs/mapping.md is what scripts/generate-docs.ts renders from the mapping definition', () => {
    expect(readFileSync(MAPPING_DOC, 'utf8')).toBe(renderMappingDoc());
  });

  it.each(markdownFiles())('every relative link in %s resolves inside the repository', (file) => {
    const text = readFileSync(path.join(root, file), 'utf8');
    const targets = [...text.matchAll(/\]\(([^)\s]+)\)/g)]
      .map((match) => match[1]!.split('#')[0]!)
      .filter((target) => target !== '' && !/^[a-z]+:/i.test(target));
    for (const target of targets) {
      const resolved = path.resolve(root, path.dirname(file), target);
      expect({ target, inside: resolved.startsWith(root + path.sep) }).toEqual({ target, inside: true });
      expect({ target, exists: existsSync(resolved) }).toEqual({ target, exists: true });
    }
  });

  it('docs/troubleshooting.md explains every problem and error code the proxy reports', () => {
    const page = readFileSync(path.join(root, 'docs/troubleshooting.md'), 'utf8');
    const explained = new Set([...page.matchAll(/`([A-Za-z_]+\*?)`/g)].map((match) => match[1]!));
    const prefixes = [...explained].filter((code) => code.endsWith('_*')).map((code) => code.slice(0, -1));
    const sources = readdirSync(path.join(root, 'proxy/src'), { recursive: true, encoding: 'utf8' }).filter(
      (file) => file.endsWith('.ts'),
    );
    const missing: string[] = [];
    for (const file of sources) {
      const text = readFileSync(path.join(root, 'proxy/src', file), 'utf8');
      const codes = [...text.matchAll(/\bcode(?:: | = )'([A-Za-z_]+)'/g)].map((match) => match[1]!);
      if (file === path.join('sync', 'problems.ts')) {
        const union = /export type ProblemCode =([^;]+);/.exec(text)?.[1] ?? '';
        codes.push(...[...union.matchAll(/'([a-z_]+)'/g)].map((match) => match[1]!));
      }
      for (const code of codes) {
        const covered = explained.has(code) || prefixes.some((prefix) => code.startsWith(prefix));
        if (!covered) missing.push(`${code} (proxy/src/${file})`);
      }
    }
    expect(missing).toEqual([]);
  });
});

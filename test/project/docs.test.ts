/**
 * The documented configuration cannot drift from the code: every variable the config schema
 * reads is in the README's table and in app.json (Heroku), and nothing else is.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { environmentSchema } from '../../proxy/src/config';

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

  it('Procfile runs migrations at release and both process types', () => {
    const procfile = readFileSync(path.join(root, 'Procfile'), 'utf8');
    expect(procfile).toMatch(/^release: npm run migrate$/m);
    expect(procfile).toMatch(/^web: npm start$/m);
    expect(procfile).toMatch(/^worker: npm run start:worker$/m);
  });
});

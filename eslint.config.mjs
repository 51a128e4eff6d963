// Flat config: typescript-eslint's type-aware recommended rules, plus the architecture's
// import rules (DESIGN.md "Layers"): sync/ is pure, adapters never reach up into http/ or jobs/,
// and only config.ts reads the environment.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const upward = ['**/http/**', '**/jobs/**', '**/app', '**/server', '**/worker', '**/runtime'];

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.data/**',
      'coverage/**',
      '**/*.js',
      '**/*.mjs',
      'test/fixtures/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'Read settings through config.ts (loadConfig), not process.env.',
        },
      ],
    },
  },
  {
    files: ['proxy/src/config.ts', 'test/**/*.ts', 'scripts/**/*.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['proxy/src/sync/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'pg', 'express', 'jsforce', 'graphile-worker', 'pino*', 'undici'],
              message: 'sync/ is pure: no I/O.',
            },
            { group: ['../*'], message: 'sync/ imports nothing outside itself.' },
          ],
        },
      ],
    },
  },
  {
    files: ['proxy/src/{salesforce,custompms,store}/**/*.ts', 'proxy/src/config.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: upward, message: 'Adapters sit below http/ and jobs/ (DESIGN.md, Layers).' },
            {
              group: [
                '../salesforce/*',
                '../custompms/*',
                '../store/*',
                '../salesforce',
                '../custompms',
                '../store',
              ],
              message: 'Adapters do not import each other.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  prettier,
);

// ESLint for src/, test/ and bin/ (`npm run lint`). Layout is Prettier's job (`npm run format`), not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.bake/', 'test/fixtures/', '**/*.cjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // A leading underscore marks a value left out on purpose (a rest sibling dropped, an unused parameter).
      '@typescript-eslint/no-unused-vars': [
        'error',
        {
          argsIgnorePattern: '^_',
          varsIgnorePattern: '^_',
          caughtErrorsIgnorePattern: '^_',
          destructuredArrayIgnorePattern: '^_',
          ignoreRestSiblings: true,
        },
      ],
      // bake matches control characters on purpose, in many places: it escapes them in terminal
      // text, JUnit XML, HCL and tag values, and its tests look for them.
      'no-control-regex': 'off',
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // Tests walk into documents bake generated and parsed back (HCL, YAML, JSON): `any` is their honest type.
      '@typescript-eslint/no-explicit-any': 'off',
      // Expected output is column-aligned text; the spaces in those patterns are the layout under test.
      'no-regex-spaces': 'off',
    },
  },
  {
    files: ['bin/**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);

import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

const packageInternals = {
  group: ['@pubsub/*/src', '@pubsub/*/src/**'],
  message: "import the package's index instead",
};
const workspaceSources = {
  group: ['**/packages/*/src/**', '**/services/*/src/**'],
  message: 'import the workspace package instead',
};
// tests/ holds test files only; what they share lives in @pubsub/testkit and @pubsub/testkit-chain.
const testsReach = {
  group: ['**/tests', '**/tests/**'],
  message: 'import @pubsub/testkit or @pubsub/testkit-chain instead',
};

export default tseslint.config(
  { ignores: ['**/dist/**', 'certs/**', 'coverage/**', '**/node_modules/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
      'no-console': 'error',
      'max-params': ['error', 3],
      // A package is used through what its index exports, never through its internals. A package's own tests
      // reach its sources as '../src/…', which no pattern matches; another package's path does, from anywhere.
      'no-restricted-imports': ['error', { patterns: [packageInternals, workspaceSources, testsReach] }],
    },
  },
  {
    // Every answer comes from the error table (packages/protocol/src/errors.ts): a refusal is built
    // with rejectionOf(code), a socket closed with closeAs / closeWithError or a CloseCode.
    files: ['packages/*/src/**/*.ts', 'services/*/src/**/*.ts', 'clientdemo/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "ObjectExpression:has(> Property[key.name='code']):has(> Property[key.name='status'][value.type='Literal'])",
          message: 'build a refusal with rejectionOf(code): its status comes from the error table',
        },
        {
          selector:
            "CallExpression[callee.property.name='close'][arguments.0.type='Literal'][arguments.0.raw=/^[0-9]/]",
          message: 'close with closeAs / closeWithError (the error table) or a CloseCode, not a raw number',
        },
      ],
    },
  },
  { files: ['eslint.config.js'], ...tseslint.configs.disableTypeChecked },
  {
    // The web console's browser module: plain JavaScript, no build step, no type information.
    files: ['services/subscriber/console/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'module',
      globals: Object.fromEntries(
        ['document', 'location', 'fetch', 'EventSource', 'FormData', 'URL', 'URLSearchParams', 'setTimeout'].map(
          (name) => [name, 'readonly'],
        ),
      ),
    },
  },
  prettier,
);

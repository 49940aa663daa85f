import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/', 'migrations/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-console': 'off',
    },
  },
  {
    // The layers around the core reach it through its face, and nothing outside src/store
    // knows which database it is (see the README's layout section).
    files: [
      'src/slack/**/*.ts',
      'src/jobs/**/*.ts',
      'src/cli/**/*.ts',
      'src/api/**/*.ts',
      'src/providers/**/*.ts',
      'src/app.ts',
      'src/main.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                '**/core/*',
                '!**/core/clock',
                '!**/core/directory',
                '!**/core/errors',
                '!**/core/notifications',
                '!**/core/backoff',
                '!**/core/suggest',
              ],
              message: 'Reach the core through its face: import from src/core (index.ts).',
            },
            {
              group: ['**/store/**', '!**/store/errors'],
              message:
                'Only src/store knows which database it is: import the port from src/store (index.ts).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);

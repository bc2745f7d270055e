import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'bench/results/', 'test/fixtures/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', require: 'readonly', module: 'writable' },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // The sandbox, the demo, tests and the benchmark talk to a person on the terminal.
    files: ['sandbox/**', 'test/**', 'scripts/**', 'bench/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // The ServiceNow Business Rule runs on the instance (Rhino, ES5, global scope), not in Node: Glide globals.
    files: ['src/adapters/servicenow/business-rule.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(
        [
          'gs',
          'current',
          'previous',
          'GlideRecord',
          'GlideDateTime',
          'GlideCertificateEncryption',
          'GlideStringUtil',
          'sn_ws',
        ].map((g) => [g, 'readonly']),
      ),
    },
  },
  {
    files: ['jest.config.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);

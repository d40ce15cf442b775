import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.build-*/'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Synchronous adapters implement async ports with `async` methods so that failures reject, never throw.
      '@typescript-eslint/require-await': 'off',
      'no-restricted-syntax': ['error',
        { selector: "MemberExpression[object.name='Math'][property.name='random']", message: 'Use an Rng.' }],
    },
  },
  {
    files: ['src/engine/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', 'setTimeout', 'setInterval', 'setImmediate', 'performance', 'process'],
      'no-restricted-syntax': ['error',
        { selector: "MemberExpression[object.name='Math'][property.name='random']", message: 'The engine takes an Rng.' },
        { selector: "MemberExpression[object.name='Date'][property.name='now']", message: 'The engine takes a Clock.' },
        { selector: "NewExpression[callee.name='Date']", message: 'The engine takes a Clock.' }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // The dashboard's script runs in the browser, inline in the page that src/api/ui.ts serves.
    files: ['src/api/ui.client.js'],
    languageOptions: {
      sourceType: 'script',
      globals: Object.fromEntries(['window', 'document', 'location', 'sessionStorage', 'fetch', 'AbortController', 'TextDecoderStream',
        'Node', 'performance', 'requestAnimationFrame', 'setTimeout', 'clearTimeout'].map((name) => [name, 'readonly'])),
    },
  },
  {
    // The report's drawing runs in the browser, inlined in the page beside uPlot's script.
    files: ['src/report/client.js'],
    languageOptions: {
      sourceType: 'script',
      globals: {
        window: 'readonly', document: 'readonly', performance: 'readonly', uPlot: 'readonly', ImageData: 'readonly', atob: 'readonly',
        require: 'off', module: 'off', process: 'off', console: 'off', __dirname: 'off',
      },
    },
  },
);

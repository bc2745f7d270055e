import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layering of the house (docs/architecture.md), enforced: a bad import fails CI here, not in review.
 * `layer(zone, forbidden, message)` forbids the files under `src/<zone>/` to import `src/<target>` for each forbidden
 * target. ESLint matches import strings, not resolved paths, so each depth of the zone gets the relative prefix that
 * reaches `src/` from there (`../` from src/core/x.ts, `../../` from src/core/work/x.ts).
 */
function layer(zone, forbidden, message, extra = []) {
  return [0, 1, 2, 3].map((depth) => {
    const up = '../'.repeat(depth + 1);
    const nested = depth === 0 ? '*.ts' : `${'*/'.repeat(depth)}*.ts`;
    return {
      files: [`src/${zone}/${nested}`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              { group: forbidden.flatMap((t) => [`${up}${t}`, `${up}${t}/**`]), message },
              ...extra.map((e) => ({ ...e, group: e.group(up) })),
            ],
          },
        ],
      },
    };
  });
}

const IO_LIBRARIES = {
  group: () => [
    'blip-sdk',
    'lime-*',
    'keyv',
    '@keyv/*',
    'fastify',
    'axios',
    'winston',
    'pg',
    'better-sqlite3',
  ],
  message: 'src/core uses no I/O library: the edges and src/state do.',
};
/** A vendor's emulator and its parts: test-side files in the vendor's folder, never built or imported by production. */
const EMULATOR_FILES = 'src/adapters/*/emulator*.ts';

const ONLY_THE_CONTRACT = {
  group: (up) => [`${up}adapters/**`, `!${up}adapters/adapter`],
  message: 'src/core may import only the adapter contract (src/adapters/adapter.ts), never a vendor.',
};

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
  // The core: the model, the work and the handoff. No edge (BLiP, HTTP, CLI), no store implementation, no vendor,
  // no I/O library, no wiring; of src/adapters only the contract.
  ...layer(
    'core',
    [
      'blip',
      'http',
      'cli',
      'state',
      'media',
      'telemetry',
      'analytics',
      'reports',
      'app',
      'main',
      'config',
      '*-config',
    ],
    'src/core imports no edge, store or wiring: give it a port (src/core/ports.ts) instead.',
    [ONLY_THE_CONTRACT, IO_LIBRARIES],
  ),
  // The HTTP edge never reaches into the CLI (what both need lives in the core or their own module).
  ...layer('http', ['cli'], 'src/http never imports src/cli.'),
  // Analytics, reports, media and telemetry know no vendor, CLI or HTTP route.
  ...['analytics', 'reports', 'media', 'telemetry'].flatMap((zone) =>
    layer(zone, ['adapters', 'cli', 'http'], `src/${zone} knows no vendor, CLI or HTTP route.`),
  ),
  {
    // A vendor folder imports the contract (which re-exports the model, the errors and the logger type), the
    // shared helpers, its own files and npm packages: nothing else of the bridge, and no other vendor.
    files: ['src/adapters/*/**/*.ts'],
    ignores: ['src/adapters/shared/**', EMULATOR_FILES],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../*', '!../adapter', '!../shared', '!../shared/*', '../../**'],
              message:
                'A vendor folder imports only ../adapter (the contract), ../shared/* and its own files.',
            },
          ],
        },
      ],
    },
  },
  {
    // A vendor's emulator (the test-side entry of its folder, found by sandbox/emulators.ts): the sandbox's emulator
    // kit, the contract's types, its own files and npm packages; nothing else of the bridge, no other vendor.
    files: [EMULATOR_FILES],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^\\.\\./(?!adapter$|shared(/|$)|\\.\\./\\.\\./sandbox/)',
              message:
                "An emulator imports only the sandbox's emulator kit (../../../sandbox/*), ../adapter, ../shared/* and its own files.",
            },
          ],
        },
      ],
    },
  },
  {
    // Production never loads test code: no emulator, nothing of the sandbox (the build leaves emulators out:
    // tsconfig.build.json). A separate rule, so it holds beside each zone's own no-restricted-imports.
    files: ['src/**/*.ts'],
    ignores: [EMULATOR_FILES],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '(^|/)(emulator(-[\\w-]+)?|sandbox(/.*)?)$',
              message:
                'Production code never imports an emulator or the sandbox: they are test-side (sandbox/emulators.ts).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/adapters/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../*', '!../adapter', '../../**'],
              message: "The adapters' shared helpers import only ../adapter (the contract).",
            },
          ],
        },
      ],
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
    files: ['jest.config.js', 'test/helpers/skip-reporter.js', 'bin/*.js'],
    languageOptions: { sourceType: 'commonjs', globals: { __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);

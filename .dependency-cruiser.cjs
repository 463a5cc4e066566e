/**
 * The rule of the layers (README "Project layout"), checked by `npm run lint`:
 *
 *   commands → cli / render / core → apply / status → plan / manifest / state / sfmc → leaves
 *
 * Arrows point down and never back. Rooms on one level do not import each other, with the few exceptions named
 * below. Leaves (text, keys, privacy, errors.ts) import nothing of ours. sandbox/ imports nothing outside itself.
 * render/ and plan/ do no I/O. Only src/ is checked: test/ and bench/ may reach into any room.
 */

const COMMANDS = '^src/(commands|hooks)/'
const LEVEL_2 = '^src/(cli|render|core)/'
const LEVEL_3 = '^src/(apply|status)/'
const LEVEL_4 = '^src/(plan|manifest|state|sfmc)/'
const LEAVES = '^src/(text|keys|privacy)/|^src/errors[.]ts$'
const IO_MODULES = [
  '^(node:)?(fs|net|http|https|http2|child_process|dgram|dns|tls|worker_threads|cluster)(/|$)',
  '^node_modules/(pg|ky|proper-lockfile|write-file-atomic)/',
]

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle means two rooms know each other; one of them holds something that belongs in the other or below.',
      from: {},
      to: {circular: true},
    },
    {
      name: 'nothing-imports-commands',
      severity: 'error',
      comment: 'Commands are the top: oclif loads them, nothing else may.',
      from: {pathNot: COMMANDS},
      to: {path: COMMANDS},
    },
    {
      name: 'sandbox-imports-only-sandbox',
      severity: 'error',
      comment: 'The fake Marketing Cloud shares no code with the client: a fake that shares its code shares its mistakes.',
      from: {path: '^src/sandbox/'},
      to: {path: '^src/', pathNot: '^src/sandbox/'},
    },
    {
      name: 'sandbox-started-from-the-top',
      severity: 'error',
      comment: 'Only commands, cli and core start the sandbox; the client and the stores never know it exists.',
      from: {path: '^src/', pathNot: ['^src/(commands|cli|core|sandbox)/']},
      to: {path: '^src/sandbox/'},
    },
    {
      name: 'render-and-plan-do-no-io',
      severity: 'error',
      comment: 'render/ is data in, string out; plan/ is a pure function of sends and state. I/O belongs in core/.',
      from: {path: '^src/(render|plan)/'},
      to: {path: IO_MODULES},
    },
    {
      name: 'leaves-import-nothing-of-ours',
      severity: 'error',
      comment: 'text, keys, privacy and errors.ts sit at the bottom: anything may import them, they import nothing of ours.',
      from: {path: '^src/(text|keys|privacy)/'},
      to: {path: '^src/', pathNot: ['^src/$1/', '^src/manifest/types[.]ts$']},
    },
    {
      name: 'errors-imports-nothing-of-ours',
      severity: 'error',
      comment: 'errors.ts is a leaf.',
      from: {path: '^src/errors[.]ts$'},
      to: {path: '^src/', pathNot: '^src/manifest/types[.]ts$'},
    },
    {
      name: 'leaves-use-manifest-types-only',
      severity: 'error',
      comment: 'A leaf may name the manifest shapes (type-only import), never run manifest code.',
      from: {path: LEAVES},
      to: {path: '^src/manifest/types[.]ts$', dependencyTypesNot: ['type-only']},
    },
    {
      name: 'level-2-does-not-import-up',
      severity: 'error',
      from: {path: LEVEL_2},
      to: {path: COMMANDS},
    },
    {
      name: 'level-3-does-not-import-up',
      severity: 'error',
      comment: 'apply/ and status/ are executors: orchestration (store, lock, connection) lives in core/.',
      from: {path: LEVEL_3},
      to: {path: [COMMANDS, LEVEL_2]},
    },
    {
      name: 'level-4-does-not-import-up',
      severity: 'error',
      from: {path: LEVEL_4},
      to: {path: [COMMANDS, LEVEL_2, LEVEL_3]},
    },
    {
      name: 'render-and-core-stay-in-their-room',
      severity: 'error',
      comment:
        'render/ knows neither the terminal nor the orchestrators; core/ does not render or prompt. (cli/ may use render/.) ' +
        'render/mask.ts counts as a leaf until it becomes src/privacy/.',
      from: {path: '^src/(render|core)/'},
      to: {path: LEVEL_2, pathNot: ['^src/$1/', '^src/render/mask[.]ts$']},
    },
    {
      name: 'cli-does-not-orchestrate',
      severity: 'error',
      comment: 'cli/ holds what only a terminal needs; commands call core/.',
      from: {path: '^src/cli/'},
      to: {path: '^src/core/'},
    },
    {
      name: 'apply-and-status-are-separate',
      severity: 'error',
      from: {path: LEVEL_3},
      to: {path: LEVEL_3, pathNot: '^src/$1/'},
    },
    {
      name: 'level-4-rooms-are-separate',
      severity: 'error',
      comment: 'manifest, state and sfmc do not know each other (state → sfmc included).',
      from: {path: '^src/(manifest|state|sfmc)/'},
      to: {path: LEVEL_4, pathNot: '^src/$1/'},
    },
    {
      name: 'plan-uses-manifest-and-state-types-only',
      severity: 'error',
      comment: 'The planner reads the shapes of sends and state records (type-only); it never loads or stores.',
      from: {path: '^src/plan/'},
      to: {path: '^src/(manifest|state)/', dependencyTypesNot: ['type-only']},
    },
    {
      name: 'plan-does-not-know-sfmc',
      severity: 'error',
      from: {path: '^src/plan/'},
      to: {path: '^src/sfmc/'},
    },
    {
      name: 'src-does-not-import-tests',
      severity: 'error',
      from: {path: '^src/'},
      to: {path: '^(test|bench)/'},
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing fails at run time.',
      from: {},
      to: {couldNotResolve: true},
    },
  ],
  options: {
    doNotFollow: {path: 'node_modules'},
    tsPreCompilationDeps: true,
    tsConfig: {fileName: 'tsconfig.json'},
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: {text: {highlightFocused: true}},
  },
}

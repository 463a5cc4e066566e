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
const MANIFEST_TYPES = '^src/manifest/types[.]ts$'
const IO_MODULES = [
  '^(node:)?(fs|net|http|https|http2|child_process|dgram|dns|tls|worker_threads|cluster)(/|$)',
  '^node_modules/(pg|ky|proper-lockfile)/',
]

/** One forbidden dependency: its name, why (printed with each violation), from where, to where. */
function forbid(name, comment, from, to) {
  return {name, severity: 'error', comment, from, to}
}

module.exports = {
  forbidden: [
    forbid('no-circular', 'A cycle means two rooms know each other; one holds something that belongs in the other or below.', {}, {circular: true}),
    forbid('nothing-imports-commands', 'Commands are the top: oclif loads them, nothing else may.', {pathNot: COMMANDS}, {path: COMMANDS}),
    forbid(
      'sandbox-imports-only-sandbox',
      'The fake Marketing Cloud shares no code with the client: a fake that shares its code shares its mistakes.',
      {path: '^src/sandbox/'},
      {path: '^src/', pathNot: '^src/sandbox/'},
    ),
    forbid(
      'sandbox-started-from-the-top',
      'Only commands, cli and core start the sandbox; the client and the stores never know it exists.',
      {path: '^src/', pathNot: '^src/(commands|cli|core|sandbox)/'},
      {path: '^src/sandbox/'},
    ),
    forbid(
      'render-and-plan-do-no-io',
      'render/ is data in, string out; plan/ is a pure function of sends and state. I/O belongs in core/.',
      {path: '^src/(render|plan)/'},
      {path: IO_MODULES},
    ),
    forbid(
      'leaves-import-nothing-of-ours',
      'text, keys, privacy and errors.ts sit at the bottom: anything may import them, they import nothing of ours.',
      {path: '^src/(text|keys|privacy)/'},
      {path: '^src/', pathNot: ['^src/$1/', MANIFEST_TYPES]},
    ),
    forbid('errors-is-a-leaf', 'errors.ts imports nothing of ours.', {path: '^src/errors[.]ts$'}, {path: '^src/', pathNot: MANIFEST_TYPES}),
    forbid(
      'leaves-use-manifest-types-only',
      'A leaf may name the manifest shapes (a type-only import), never run manifest code.',
      {path: LEAVES},
      {path: MANIFEST_TYPES, dependencyTypesNot: ['type-only']},
    ),
    forbid('level-2-does-not-import-up', 'cli/, render/ and core/ are called by commands, never the reverse.', {path: LEVEL_2}, {path: COMMANDS}),
    forbid(
      'level-3-does-not-import-up',
      'apply/ and status/ are executors: orchestration (store, lock, connection) lives in core/.',
      {path: LEVEL_3},
      {path: [COMMANDS, LEVEL_2]},
    ),
    forbid(
      'level-4-does-not-import-up',
      'plan/, manifest/, state/ and sfmc/ know nothing of executors, orchestrators, renderers or commands.',
      {path: LEVEL_4},
      {path: [COMMANDS, LEVEL_2, LEVEL_3]},
    ),
    forbid(
      'render-and-core-stay-in-their-room',
      'render/ knows neither the terminal nor the orchestrators; core/ does not render or prompt (cli/ may use render/).',
      {path: '^src/(render|core)/'},
      {path: LEVEL_2, pathNot: '^src/$1/'},
    ),
    forbid('cli-does-not-orchestrate', 'cli/ holds what only a terminal needs; commands call core/.', {path: '^src/cli/'}, {path: '^src/core/'}),
    forbid('apply-and-status-are-separate', 'The executor and the poller share only lower rooms.', {path: LEVEL_3}, {path: LEVEL_3, pathNot: '^src/$1/'}),
    forbid(
      'level-4-rooms-are-separate',
      'manifest/, state/ and sfmc/ do not know each other (state → sfmc included).',
      {path: '^src/(manifest|state|sfmc)/'},
      {path: LEVEL_4, pathNot: '^src/$1/'},
    ),
    forbid(
      'plan-uses-manifest-and-state-types-only',
      'The planner reads the shapes of sends and state records (type-only imports); it never loads or stores.',
      {path: '^src/plan/'},
      {path: '^src/(manifest|state)/', dependencyTypesNot: ['type-only']},
    ),
    forbid('plan-does-not-know-sfmc', 'Planning is offline.', {path: '^src/plan/'}, {path: '^src/sfmc/'}),
    forbid('src-does-not-import-tests', 'Tests and benchmarks are not shipped.', {path: '^src/'}, {path: '^(test|bench)/'}),
    forbid('not-to-unresolvable', 'An import that resolves to nothing fails at run time.', {}, {couldNotResolve: true}),
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
  },
}

// @ts-check
/**
 * The rooms of the house (docs/architecture.md) and the one-way flow between them, checked by `npm run lint:deps`:
 * CLI/client → Temporal → worker → workflow → activities → stores. A rule broken here means a module reaches
 * backwards; move the boundary rather than the rule.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Import cycles (type-only ones included) hide which module owns what; split the shared part out.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-is-pure',
      severity: 'error',
      comment: 'core/ holds pure modules shared by every room: it imports no other room.',
      from: { path: '^core/' },
      to: { path: '^(workflows|activities|workers|clients|infra|bench|test|pipelines)/' },
    },
    {
      name: 'workflows-import-activities-as-types-only',
      severity: 'error',
      comment: 'Workflow code runs in the sandbox: activities are called through proxyActivities, imported as types.',
      from: { path: '^workflows/' },
      to: { path: '^activities/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'workflows-stay-deterministic',
      severity: 'error',
      comment: 'Workflow code reaches only core/ and other workflow modules (and @temporalio/workflow).',
      from: { path: '^workflows/' },
      to: { path: '^(workers|clients|infra|bench|test|pipelines)/' },
    },
    {
      name: 'clients-never-load-workflow-code',
      severity: 'error',
      comment:
        'Clients start and read workflows by name and types; the types modules (workflows/types.ts and its siblings) are what they import.',
      from: { path: '^clients/' },
      to: { path: '^workflows/', pathNot: '^workflows/(types|trigger-types|notification-types)\\.ts$' },
    },
    {
      name: 'activities-flow-downstream',
      severity: 'error',
      comment: 'Activities are the end of the flow: they never import workers, clients or the embedded servers.',
      from: { path: '^activities/' },
      to: { path: '^(workers|clients|infra|bench|test)/' },
    },
    {
      name: 'workers-never-import-clients',
      severity: 'error',
      from: { path: '^workers/' },
      to: { path: '^(clients|infra|bench|test)/' },
    },
    {
      name: 'infra-stands-alone',
      severity: 'error',
      comment: 'The embedded servers are products of their own: they never import the ML engine.',
      from: { path: '^infra/' },
      to: { path: '^(workflows|activities|workers|clients|bench|test|pipelines)/' },
    },
    {
      name: 'nobody-imports-bench-or-tests',
      severity: 'error',
      from: { pathNot: '^(bench|test)/' },
      to: { path: '^(bench|test)/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|infra/ui/assets|infra/ui/build|infra/ui/pipeline-view)' },
  },
};

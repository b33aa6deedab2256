/**
 * The workflows entry file: everything a worker's workflow bundle contains. Workers point at it with
 * `workflowsPath: require.resolve('../workflows')`. Clients never import it: they use `./types`, which loads no
 * workflow code.
 */
export { runPipeline } from './run-pipeline';
export { foreachBatch } from './foreach-batch';
export { monitorModel } from './monitor';
export { watchPrefix } from './watch-prefix';
export { deliverNotifications } from './notifications';

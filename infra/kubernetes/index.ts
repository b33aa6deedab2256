/** The Kubernetes API test server (contract tests of the Job executor): see `./server.ts` and docs/executors.md. */
export {
  startKubernetesTestServer,
  statusFailure,
  type KubernetesTestServer,
  type KubernetesTestServerOptions,
} from './server';
export { scenarioOf, type Scenario } from './scenarios';
export type { ClusterStats } from './cluster';

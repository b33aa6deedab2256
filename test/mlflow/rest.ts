/**
 * A minimal REST caller for the MLflow server suites: real HTTP with `fetch`, GET parameters in the query string
 * (arrays as repeated keys), other methods with a JSON body, and the answer's status and parsed body.
 */
import { startMlflowServer, type MlflowServerHandle, type MlflowServerOptions } from '../../infra/mlflow';
import { suiteTemporaryDirectories } from '../temporary-directories';

/** An answer: HTTP status and parsed JSON body. */
export interface RestAnswer<T = Record<string, unknown>> {
  status: number;
  body: T;
}

/** MLflow's error body. */
export interface ErrorBody {
  error_code: string;
  message: string;
}

/** Calls one MLflow server. */
export class MlflowRest {
  constructor(readonly url: string) {}

  /** Calls `/api/2.0/mlflow/<path>`. */
  async call<T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    message: Record<string, unknown> = {},
  ): Promise<RestAnswer<T>> {
    let url = `${this.url}/api/2.0/mlflow/${path}`;
    const init: RequestInit = { method };
    if (method === 'GET') {
      const query = new URLSearchParams();
      for (const [key, value] of Object.entries(message)) {
        for (const item of Array.isArray(value) ? value : [value]) query.append(key, String(item));
      }
      if ([...query.keys()].length > 0) url += `?${query.toString()}`;
    } else {
      init.headers = { 'Content-Type': 'application/json' };
      init.body = JSON.stringify(message);
    }
    const response = await fetch(url, init);
    const text = await response.text();
    return { status: response.status, body: (text === '' ? {} : JSON.parse(text)) as T };
  }

  /** Calls and expects 200; fails with the server's error body otherwise. */
  async ok<T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    message: Record<string, unknown> = {},
  ): Promise<T> {
    const answer = await this.call<T>(method, path, message);
    if (answer.status !== 200) {
      throw new Error(`${method} ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    }
    return answer.body;
  }

  /** Calls and expects an error; resolves with status, error_code and message. */
  async error(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    message: Record<string, unknown> = {},
  ): Promise<ErrorBody & { status: number }> {
    const answer = await this.call<ErrorBody>(method, path, message);
    if (answer.status === 200) throw new Error(`${method} ${path} succeeded: ${JSON.stringify(answer.body)}`);
    return { status: answer.status, ...answer.body };
  }

  /** Creates an experiment with a unique name and resolves with its id. */
  async experiment(prefix = 'exp'): Promise<string> {
    const name = `${prefix}-${Math.random().toString(36).slice(2)}`;
    const { experiment_id } = await this.ok<{ experiment_id: string }>('POST', 'experiments/create', { name });
    return experiment_id;
  }

  /** Creates a run and resolves with its id. */
  async run(experimentId: string, extra: Record<string, unknown> = {}): Promise<string> {
    const { run } = await this.ok<{ run: { info: { run_id: string } } }>('POST', 'runs/create', {
      experiment_id: experimentId,
      start_time: Date.now(),
      ...extra,
    });
    return run.info.run_id;
  }
}

/**
 * Starts an in-memory server on a free port for a suite (artifacts in a temporary directory) and stops it after the
 * suite; returns a getter for its caller and handle.
 */
export function suiteMlflowServer(
  options: MlflowServerOptions = {},
): () => { rest: MlflowRest; handle: MlflowServerHandle } {
  const directories = suiteTemporaryDirectories('mloe-mlflow-');
  let started: { rest: MlflowRest; handle: MlflowServerHandle } | undefined;
  beforeAll(async () => {
    const artifacts = await directories();
    const handle = await startMlflowServer({ port: 0, artifactsDestination: artifacts, ...options });
    started = { rest: new MlflowRest(handle.url), handle };
  });
  afterAll(async () => {
    await started?.handle.close();
  });
  return () => {
    if (started === undefined) throw new Error('the MLflow server has not started (beforeAll)');
    return started;
  };
}

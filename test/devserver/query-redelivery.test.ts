/**
 * A query task lost on its way to a worker (handed to a long poll the worker gave up, or to a worker that stopped)
 * is handed out again after `limits.queryRedeliveryMs`, so the caller gets its answer instead of waiting out the
 * query timeout. Driven over the raw WorkflowService (a "worker" that takes the task and never answers), on a dev
 * server of this file's own with a short redelivery delay.
 */

import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

import { startDevServer, type DevServerHandle } from '../../infra/devserver';
import { rawRun, type WorkflowTaskPoll } from './harness';

const CommandType = temporal.api.enums.v1.CommandType;
const QueryResultType = temporal.api.enums.v1.QueryResultType;
let server: DevServerHandle;
let connection: Connection;
let client: Client;

beforeAll(async () => {
  server = await startDevServer({ port: 0, limits: { queryRedeliveryMs: 150 } });
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection });
});
afterAll(async () => {
  await connection?.close();
  await server?.close();
});

it('hands an unanswered query task out again; the first copy can no longer be answered', async () => {
  const run = rawRun(connection.workflowService, 'query-redelivery');
  const { svc, workflowId } = run;
  await run.start();
  const poll = (): Promise<WorkflowTaskPoll> => run.pollTask();
  const first = await poll();
  await run.complete(first, [
    {
      commandType: CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
      completeWorkflowExecutionCommandAttributes: {},
    },
  ]);

  // The run is closed: the query goes out as a query task of its own.
  const answer = client.workflow.getHandle(workflowId).query<string>('status');
  const lost = await poll();
  expect(lost.query?.queryType).toBe('status');
  // Nobody answers `lost`. The same query comes back on a later poll.
  const again = await poll();
  expect(again.query?.queryType).toBe('status');
  expect(Buffer.from(again.taskToken ?? []).equals(Buffer.from(lost.taskToken ?? []))).toBe(true);
  await svc.respondQueryTaskCompleted({
    namespace: 'default',
    taskToken: again.taskToken ?? null,
    completedType: QueryResultType.QUERY_RESULT_TYPE_ANSWERED,
    queryResult: { payloads: [defaultPayloadConverter.toPayload('answered on redelivery')] },
  });
  await expect(answer).resolves.toBe('answered on redelivery');
  // A late answer to the copy that was lost is refused: the query has its answer.
  await expect(
    svc.respondQueryTaskCompleted({
      namespace: 'default',
      taskToken: lost.taskToken ?? null,
      completedType: QueryResultType.QUERY_RESULT_TYPE_ANSWERED,
      queryResult: { payloads: [defaultPayloadConverter.toPayload('too late')] },
    }),
  ).rejects.toMatchObject({ code: 5 });
});

/**
 * The WorkflowService method table: each implemented method maps to its handler; every other method answers
 * UNIMPLEMENTED with a message naming it (never a crash or a hang).
 */
import type { Handler } from './handler';
import { activityHandlers, pollActivityTaskQueue } from './activity';
import {
  executeMultiOperation,
  requestCancelWorkflowExecution,
  signalWithStartWorkflowExecution,
  signalWorkflowExecution,
  terminateWorkflowExecution,
} from './executions';
import { describeWorkflowExecution, getWorkflowExecutionHistory, getWorkflowExecutionHistoryReverse } from './history';
import {
  describeNamespace,
  getClusterInfo,
  getSystemInfo,
  listNamespaces,
  registerNamespace,
  updateNamespace,
} from './namespace';
import { queryWorkflow, respondQueryTaskCompleted } from './query';
import { resetWorkflowExecution } from './reset';
import { startWorkflowExecutionHandler } from './eager-start';
import {
  clearSticky,
  completeWorkflowTask,
  failWorkflowTask,
  pollWorkflowTaskQueue,
  shutdownWorker,
} from './workflow-task';
import { pollWorkflowExecutionUpdate, updateWorkflowExecution } from './update';
import { visibilityHandlers } from '../visibility/visibility-api';
import { scheduleHandlers } from '../schedules/schedules-api';

/** Handlers of temporal.api.workflowservice.v1.WorkflowService, by method name. */
export const workflowServiceHandlers: Record<string, Handler> = {
  GetSystemInfo: () => getSystemInfo(),
  GetClusterInfo: () => getClusterInfo(),
  DescribeNamespace: describeNamespace,
  ListNamespaces: listNamespaces,
  RegisterNamespace: registerNamespace,
  UpdateNamespace: updateNamespace,
  StartWorkflowExecution: startWorkflowExecutionHandler,
  SignalWorkflowExecution: signalWorkflowExecution,
  SignalWithStartWorkflowExecution: signalWithStartWorkflowExecution,
  RequestCancelWorkflowExecution: requestCancelWorkflowExecution,
  TerminateWorkflowExecution: terminateWorkflowExecution,
  ResetWorkflowExecution: resetWorkflowExecution,
  ExecuteMultiOperation: executeMultiOperation,
  PollWorkflowTaskQueue: pollWorkflowTaskQueue,
  RespondWorkflowTaskCompleted: completeWorkflowTask,
  RespondWorkflowTaskFailed: failWorkflowTask,
  PollActivityTaskQueue: pollActivityTaskQueue,
  ...(activityHandlers as unknown as Record<string, Handler>),
  QueryWorkflow: queryWorkflow,
  RespondQueryTaskCompleted: respondQueryTaskCompleted,
  UpdateWorkflowExecution: updateWorkflowExecution,
  PollWorkflowExecutionUpdate: pollWorkflowExecutionUpdate,
  GetWorkflowExecutionHistory: getWorkflowExecutionHistory,
  GetWorkflowExecutionHistoryReverse: getWorkflowExecutionHistoryReverse,
  DescribeWorkflowExecution: describeWorkflowExecution,
  ...visibilityHandlers,
  ...(scheduleHandlers as unknown as Record<string, Handler>),
  ResetStickyTaskQueue: (engine, req: { namespace?: string; execution?: { workflowId?: string; runId?: string } }) => {
    const ns = engine.namespace(req.namespace).name;
    clearSticky(engine, engine.getRun(ns, req.execution?.workflowId, req.execution?.runId));
    return {};
  },
  ShutdownWorker: (engine, req: { namespace?: string; stickyTaskQueue?: string }) => {
    engine.namespace(req.namespace);
    return shutdownWorker(engine, req);
  },
  DescribeTaskQueue: (engine, req: { namespace?: string; taskQueue?: { name?: string }; taskQueueType?: number }) => {
    const ns = engine.namespace(req.namespace).name;
    const matching = req.taskQueueType === 2 ? engine.activityMatching : engine.workflowMatching;
    const pollers = [...matching.pollers(ns, req.taskQueue?.name ?? '')].map(([identity, at]) => ({
      identity,
      lastAccessTime: { seconds: Math.floor(at / 1000) },
    }));
    return { pollers };
  },
};

/** Methods the health service answers. */
export const healthHandlers: Record<string, Handler> = {
  Check: () => ({ status: 1 }),
};

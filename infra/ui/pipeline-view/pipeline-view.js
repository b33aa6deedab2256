// mloe's pipeline view: a run's DAG with each step's state, duration, attempts, cache decision and outputs (live
// while it runs), the runs of a pipeline, and two runs side by side. It reads everything through Temporal's HTTP API
// on the same server (`<public path>/api/v1/...`): the `status` query of a `runPipeline` workflow and the workflow
// list. Plain browser JavaScript, no build step; served by the Web UI server under `/mloe/`.

const RUN_WORKFLOW_TYPE = 'runPipeline';
const REFRESH_MS = 1000;

/** The public path the UI is served under: everything before `/mloe/` in this page's path. */
function basePath() {
  const at = location.pathname.indexOf('/mloe/');
  return at <= 0 ? '' : location.pathname.slice(0, at);
}

function csrfToken() {
  const cookie = document.cookie
    .split(';')
    .map((part) => part.trim())
    .find((part) => part.startsWith('_csrf='));
  return cookie === undefined ? '' : cookie.slice('_csrf='.length);
}

async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    headers['X-CSRF-TOKEN'] = csrfToken();
  }
  const response = await fetch(`${basePath()}/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await response.text();
  let json;
  try {
    json = text === '' ? {} : JSON.parse(text);
  } catch {
    json = { message: text };
  }
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}: ${json.message ?? text}`);
  return json;
}

function base64ToText(value) {
  const bytes = Uint8Array.from(atob(value), (char) => char.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/**
 * A JSON payload's value: proto3 JSON (`{ metadata: { encoding: base64 }, data: base64 }`), or the value itself
 * when the API rendered it in Temporal's shorthand.
 */
export function decodePayload(payload) {
  if (payload === null || typeof payload !== 'object' || !('data' in payload) || !('metadata' in payload)) {
    return payload;
  }
  const encoding = payload.metadata?.encoding ? base64ToText(payload.metadata.encoding) : '';
  if (encoding !== 'json/plain') throw new Error(`a payload in ${encoding || 'an unknown'} encoding cannot be shown`);
  return JSON.parse(base64ToText(payload.data ?? ''));
}

/** A duration in ms as `1.23 s`, `4 min 5 s`. */
export function formatDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

function escapeHtml(value) {
  return String(value).replace(
    /[&<>"']/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char],
  );
}

/** Layers of the DAG: each step one layer after the deepest step it needs. */
export function layoutDag(steps) {
  const byId = new Map(steps.map((step) => [step.id, step]));
  const depth = new Map();
  const depthOf = (id, seen = new Set()) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0;
    seen.add(id);
    const needs = (byId.get(id)?.needs ?? []).filter((need) => byId.has(need));
    const value = needs.length === 0 ? 0 : 1 + Math.max(...needs.map((need) => depthOf(need, seen)));
    depth.set(id, value);
    return value;
  };
  const layers = [];
  for (const step of steps) {
    const layer = depthOf(step.id);
    (layers[layer] ??= []).push(step);
  }
  const nodeWidth = 190;
  const nodeHeight = 62;
  const gapX = 60;
  const gapY = 18;
  const nodes = new Map();
  layers.forEach((layer, column) => {
    layer.forEach((step, row) => {
      nodes.set(step.id, { step, x: 20 + column * (nodeWidth + gapX), y: 20 + row * (nodeHeight + gapY) });
    });
  });
  const tallest = Math.max(1, ...layers.map((layer) => layer.length));
  return {
    nodes: [...nodes.values()],
    edges: steps.flatMap((step) =>
      step.needs.filter((need) => nodes.has(need)).map((need) => ({ from: nodes.get(need), to: nodes.get(step.id) })),
    ),
    nodeWidth,
    nodeHeight,
    width: 40 + layers.length * (nodeWidth + gapX) - gapX,
    height: 40 + tallest * (nodeHeight + gapY) - gapY,
  };
}

function stateBadge(state) {
  return `<span class="state ${escapeHtml(state)}" data-state="${escapeHtml(state)}">${escapeHtml(state)}</span>`;
}

function dagSvg(steps) {
  const dag = layoutDag(steps);
  const edges = dag.edges
    .map(({ from, to }) => {
      const x1 = from.x + dag.nodeWidth;
      const y1 = from.y + dag.nodeHeight / 2;
      const x2 = to.x;
      const y2 = to.y + dag.nodeHeight / 2;
      const mid = (x1 + x2) / 2;
      return `<path class="edge" d="M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}"/>`;
    })
    .join('');
  const nodes = dag.nodes
    .map(({ step, x, y }) => {
      const color = `var(--${step.state}, #999)`;
      const progress = step.foreach ? ` · ${step.foreach.completed}/${step.foreach.total} items` : '';
      return (
        `<g class="node" data-step="${escapeHtml(step.id)}" data-state="${escapeHtml(step.state)}">` +
        `<a href="#step-${encodeURIComponent(step.id)}">` +
        `<rect x="${x}" y="${y}" width="${dag.nodeWidth}" height="${dag.nodeHeight}" stroke="${color}"/>` +
        `<text x="${x + 10}" y="${y + 18}">${escapeHtml(step.id)}</text>` +
        `<text class="sub" x="${x + 10}" y="${y + 35}">${escapeHtml(step.state)} · ${escapeHtml(formatDuration(step.durationMs))}</text>` +
        `<text class="sub" x="${x + 10}" y="${y + 52}">cache ${escapeHtml(step.cache)} · ${step.attempts} attempt${step.attempts === 1 ? '' : 's'}${escapeHtml(progress)}</text>` +
        `</a></g>`
      );
    })
    .join('');
  return (
    `<svg class="dag" role="img" aria-label="pipeline DAG" width="${dag.width}" height="${dag.height}" data-testid="dag">` +
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto">` +
    `<path d="M0,0 L10,5 L0,10 z" fill="#94a3b8"/></marker></defs>${edges}${nodes}</svg>`
  );
}

function isArtifact(value) {
  return (
    value !== null && typeof value === 'object' && typeof value.uri === 'string' && typeof value.digest === 'string'
  );
}

function outputCell(outputs) {
  if (outputs === undefined) return '<span class="muted">–</span>';
  return Object.entries(outputs)
    .map(([name, value]) => {
      if (isArtifact(value)) {
        return (
          `<div><b>${escapeHtml(name)}</b>: <span class="mono" title="${escapeHtml(value.uri)}">${escapeHtml(value.uri)}</span>` +
          ` <span class="mono muted">${escapeHtml(value.digest)}</span> (${escapeHtml(value.type ?? '')}, ${value.size} B)` +
          ` <a data-testid="lineage-link" href="${escapeHtml(lineageLink(value.uri))}">lineage</a></div>`
        );
      }
      const text = JSON.stringify(value);
      return `<div><b>${escapeHtml(name)}</b>: <code>${escapeHtml(text.length > 200 ? `${text.slice(0, 200)}…` : text)}</code></div>`;
    })
    .join('');
}

function metricsCell(metrics) {
  if (metrics === undefined) return '';
  const list = Array.isArray(metrics) ? metrics : [metrics];
  return list
    .map((entry) =>
      Object.entries(entry)
        .map(([name, value]) => `${escapeHtml(name)}=${escapeHtml(Number(value.toPrecision(6)))}`)
        .join(', '),
    )
    .join('<br/>');
}

function temporalRunLink(namespace, workflowId, runId) {
  return `${basePath()}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/${encodeURIComponent(runId)}/history`;
}

/** An artifact's lineage (`mloe lineage <uri> --json`), from the view's backend. */
function lineageLink(uri) {
  return `${basePath()}/mloe/api/lineage?${new URLSearchParams({ artifact: uri }).toString()}`;
}

/**
 * The link to another MLflow run in the same style as the pipeline run's (the MLflow UI's run page, or the REST
 * answer of a server without a UI): the pipeline run's link with the run id swapped.
 */
export function mlflowRunLink(pipelineLink, runId) {
  const at = pipelineLink.url.lastIndexOf(encodeURIComponent(pipelineLink.runId));
  if (at < 0) return undefined;
  return (
    pipelineLink.url.slice(0, at) +
    encodeURIComponent(runId) +
    pipelineLink.url.slice(at + encodeURIComponent(pipelineLink.runId).length)
  );
}

/**
 * The MLflow runs of the run's steps (`byStep`: step id → runs, iterations by index), from the view's backend, which
 * finds them in MLflow by their tags; none when the run is not tracked or the server has no MLflow to search (404),
 * and `error` saying why when the search failed (e.g. the tracking server refused mloe's credentials).
 */
async function stepRuns(status) {
  if (!status.mlflow?.experimentId) return { byStep: new Map() };
  const query = new URLSearchParams({ experimentId: status.mlflow.experimentId, workflowId: status.workflowId });
  try {
    const response = await fetch(`${basePath()}/mloe/api/step-runs?${query.toString()}`, {
      headers: { Accept: 'application/json' },
      credentials: 'same-origin',
    });
    if (response.status === 404) return { byStep: new Map() };
    if (!response.ok) {
      const answer = await response.json().catch(() => ({}));
      return { byStep: new Map(), error: answer.message ?? `HTTP ${response.status}` };
    }
    const byStep = new Map();
    for (const run of (await response.json()).runs ?? []) {
      const url = mlflowRunLink(status.mlflow, run.runId);
      if (url !== undefined)
        (byStep.get(run.stepId) ?? byStep.set(run.stepId, []).get(run.stepId)).push({ ...run, url });
    }
    return { byStep };
  } catch (error) {
    return { byStep: new Map(), error: String(error?.message ?? error) };
  }
}

function stepRunsCell(runs) {
  if (runs === undefined || runs.length === 0) return '<span class="muted">–</span>';
  const sorted = [...runs].sort((a, b) => (a.index ?? -1) - (b.index ?? -1));
  const shown = sorted
    .slice(0, 10)
    .map(
      (run) =>
        `<div><a data-testid="step-mlflow-link" data-run-id="${escapeHtml(run.runId)}" href="${escapeHtml(run.url)}">` +
        `${run.index === undefined ? 'MLflow run' : `item ${run.index}`}</a></div>`,
    );
  if (sorted.length > shown.length) shown.push(`<div class="muted">and ${sorted.length - shown.length} more</div>`);
  return shown.join('');
}

function viewLink(params) {
  return `?${new URLSearchParams(params).toString()}`;
}

async function describeRun(namespace, workflowId) {
  const described = await request(
    'GET',
    `/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`,
  );
  return described.workflowExecutionInfo ?? {};
}

async function queryStatus(namespace, workflowId) {
  const answer = await request(
    'POST',
    `/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}/query/status`,
    { execution: { workflowId }, query: { queryType: 'status' } },
  );
  const payloads = answer.queryResult?.payloads ?? [];
  if (payloads.length === 0) throw new Error(`the status query of ${workflowId} answered nothing`);
  return decodePayload(payloads[0]);
}

function runSummary(status, info, namespace) {
  const runId = info.execution?.runId ?? '';
  const rows = [
    ['Pipeline', `<a href="${viewLink({ namespace, pipeline: status.pipeline })}">${escapeHtml(status.pipeline)}</a>`],
    ['State', stateBadge(status.state)],
    ['Run (workflow id)', `<span class="mono">${escapeHtml(status.workflowId)}</span>`],
    [
      'Temporal',
      runId === ''
        ? '–'
        : `<a data-testid="temporal-link" href="${temporalRunLink(namespace, status.workflowId, runId)}">workflow in the Temporal Web UI</a>`,
    ],
    ['Spec hash', `<span class="mono">${escapeHtml(status.specHash)}</span>`],
    ['Started', escapeHtml(status.startedAt)],
    [
      'Duration',
      escapeHtml(
        formatDuration((status.finishedAt ? Date.parse(status.finishedAt) : Date.now()) - Date.parse(status.startedAt)),
      ),
    ],
    ['Params', `<code>${escapeHtml(JSON.stringify(status.params))}</code>`],
  ];
  if (status.mlflow?.url)
    rows.push(['MLflow run', `<a href="${escapeHtml(status.mlflow.url)}">${escapeHtml(status.mlflow.runId)}</a>`]);
  if (status.rerunOf) {
    rows.push([
      'Rerun of',
      `<a href="${viewLink({ namespace, run: status.rerunOf.workflowId })}">${escapeHtml(status.rerunOf.workflowId)}</a> from ${escapeHtml(status.rerunOf.fromSteps.join(', '))}`,
    ]);
  }
  if (status.error) rows.push(['Error', `<span class="error">${escapeHtml(status.error)}</span>`]);
  return `<div class="summary">${rows.map(([name, value]) => `<div class="muted">${name}</div><div>${value}</div>`).join('')}</div>`;
}

function stepsTable(status, namespace, runsByStep = new Map()) {
  const rows = status.steps.map((step) => {
    const extra = [];
    if (step.foreach) {
      const percent = step.foreach.total === 0 ? 100 : Math.round((100 * step.foreach.completed) / step.foreach.total);
      extra.push(
        `<div>items ${step.foreach.completed}/${step.foreach.total} (${step.foreach.failed} failed) <span class="progress"><span style="width:${percent}%"></span></span></div>`,
      );
    }
    if (step.childWorkflow) {
      extra.push(
        `<div>sub-pipeline: <a href="${viewLink({ namespace, run: step.childWorkflow.workflowId })}">${escapeHtml(step.childWorkflow.workflowId)}</a></div>`,
      );
    }
    if (step.logs) extra.push(`<div>logs: ${outputCell({ stdout: step.logs.stdout, stderr: step.logs.stderr })}</div>`);
    if (step.reason) extra.push(`<div class="muted">${escapeHtml(step.reason)}</div>`);
    if (step.error) extra.push(`<div class="error">${escapeHtml(step.error)}</div>`);
    const reasons = (step.cacheReasons ?? [])
      .map((reason) => `<div class="muted">${escapeHtml(reason)}</div>`)
      .join('');
    return (
      `<tr id="step-${escapeHtml(step.id)}" data-step="${escapeHtml(step.id)}">` +
      `<td><b>${escapeHtml(step.id)}</b><div class="muted mono">${escapeHtml(step.uses)}</div></td>` +
      `<td>${stateBadge(step.state)}</td><td>${escapeHtml(formatDuration(step.durationMs))}</td>` +
      `<td>${step.attempts}</td><td data-cache="${escapeHtml(step.cache)}">${escapeHtml(step.cache)}${reasons}</td>` +
      `<td>${outputCell(step.outputs)}${extra.join('')}</td><td>${metricsCell(step.metrics)}</td>` +
      `<td>${stepRunsCell(runsByStep.get(step.id))}</td></tr>`
    );
  });
  return (
    `<table data-testid="steps"><thead><tr><th>Step</th><th>State</th><th>Duration</th><th>Attempts</th><th>Cache</th>` +
    `<th>Outputs</th><th>Metrics</th><th>MLflow</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
  );
}

async function showRun(app, namespace, workflowId) {
  const [status, info] = await Promise.all([queryStatus(namespace, workflowId), describeRun(namespace, workflowId)]);
  const runs = await stepRuns(status);
  document.title = `${status.pipeline} ${status.state} | mloe`;
  app.innerHTML =
    `<h1 data-testid="run-title">${escapeHtml(status.pipeline)} · ${escapeHtml(status.workflowId)}</h1>` +
    runSummary(status, info, namespace) +
    `<h2>DAG</h2>${dagSvg(status.steps)}<h2>Steps</h2>` +
    (runs.error === undefined
      ? ''
      : `<p class="error" data-testid="step-runs-error">No MLflow links: ${escapeHtml(runs.error)}</p>`) +
    stepsTable(status, namespace, runs.byStep);
  return status.state === 'running';
}

function executionStatus(execution) {
  return String(execution.status ?? '')
    .replace('WORKFLOW_EXECUTION_STATUS_', '')
    .toLowerCase();
}

async function showRuns(app, namespace, pipeline) {
  const clauses = [`WorkflowType = '${RUN_WORKFLOW_TYPE}'`];
  if (pipeline) clauses.push(`MloePipeline = '${pipeline.replaceAll("'", "\\'")}'`);
  const query = encodeURIComponent(clauses.join(' AND '));
  const list = await request('GET', `/namespaces/${encodeURIComponent(namespace)}/workflows?query=${query}`);
  const executions = list.executions ?? [];
  const rows = executions.map((execution) => {
    const workflowId = execution.execution?.workflowId ?? '';
    const started = execution.startTime ?? '';
    const closed = execution.closeTime;
    const duration = closed ? Date.parse(closed) - Date.parse(started) : undefined;
    return (
      `<tr data-run="${escapeHtml(workflowId)}"><td><input type="checkbox" name="compare" value="${escapeHtml(workflowId)}"/></td>` +
      `<td><a href="${viewLink({ namespace, run: workflowId })}">${escapeHtml(workflowId)}</a></td>` +
      `<td>${stateBadge(executionStatus(execution))}</td><td>${escapeHtml(started)}</td><td>${escapeHtml(formatDuration(duration))}</td></tr>`
    );
  });
  app.innerHTML =
    `<h1 data-testid="runs-title">${pipeline ? `Runs of ${escapeHtml(pipeline)}` : 'Pipeline runs'}</h1>` +
    `<form class="filters" data-testid="filter"><label>Pipeline <input name="pipeline" value="${escapeHtml(pipeline ?? '')}"/></label>` +
    `<input type="hidden" name="namespace" value="${escapeHtml(namespace)}"/><button>Filter</button>` +
    `<button type="button" id="compare">Compare two selected</button></form>` +
    (rows.length === 0
      ? '<p class="muted">No pipeline runs.</p>'
      : `<table data-testid="runs"><thead><tr><th></th><th>Run</th><th>Status</th><th>Started</th><th>Duration</th></tr></thead><tbody>${rows.join('')}</tbody></table>`);
  app.querySelector('#compare')?.addEventListener('click', () => {
    const chosen = [...app.querySelectorAll('input[name=compare]:checked')].map((box) => box.value);
    if (chosen.length === 2) location.search = viewLink({ namespace, compare: chosen.join(',') });
  });
  return false;
}

/** What differs between two runs: params, and per step the state, cache decision, cache key and metrics. */
export function compareRuns(left, right) {
  const names = [...new Set([...Object.keys(left.params), ...Object.keys(right.params)])].sort();
  const params = names.map((name) => ({
    name,
    left: left.params[name],
    right: right.params[name],
    same: JSON.stringify(left.params[name]) === JSON.stringify(right.params[name]),
  }));
  const ids = [...new Set([...left.steps.map((step) => step.id), ...right.steps.map((step) => step.id)])];
  const steps = ids.map((id) => {
    const a = left.steps.find((step) => step.id === id);
    const b = right.steps.find((step) => step.id === id);
    const changed = a?.cacheKey === undefined || b?.cacheKey === undefined || a.cacheKey !== b.cacheKey;
    return { id, left: a, right: b, changed, why: [...(a?.cacheReasons ?? []), ...(b?.cacheReasons ?? [])] };
  });
  return { params, steps, sameSpec: left.specHash === right.specHash };
}

async function showCompare(app, namespace, ids) {
  const [left, right] = await Promise.all(ids.map((id) => queryStatus(namespace, id)));
  const diff = compareRuns(left, right);
  const cell = (step) =>
    step === undefined
      ? '<span class="muted">–</span>'
      : `${stateBadge(step.state)} cache ${escapeHtml(step.cache)}<div>${metricsCell(step.metrics)}</div>`;
  app.innerHTML =
    `<h1 data-testid="compare-title">${escapeHtml(left.workflowId)} vs ${escapeHtml(right.workflowId)}</h1>` +
    `<p>${diff.sameSpec ? 'Same spec.' : 'The specs differ.'}</p><h2>Params</h2>` +
    `<table><thead><tr><th>Param</th><th>${escapeHtml(left.workflowId)}</th><th>${escapeHtml(right.workflowId)}</th></tr></thead><tbody>` +
    diff.params
      .map(
        (param) =>
          `<tr${param.same ? '' : ' class="changed"'}><td>${escapeHtml(param.name)}</td><td><code>${escapeHtml(JSON.stringify(param.left) ?? '–')}</code></td><td><code>${escapeHtml(JSON.stringify(param.right) ?? '–')}</code></td></tr>`,
      )
      .join('') +
    `</tbody></table><h2>Steps</h2><table data-testid="compare-steps"><thead><tr><th>Step</th><th>${escapeHtml(left.workflowId)}</th><th>${escapeHtml(right.workflowId)}</th><th>Changed?</th></tr></thead><tbody>` +
    diff.steps
      .map(
        (step) =>
          `<tr data-step="${escapeHtml(step.id)}"><td>${escapeHtml(step.id)}</td><td>${cell(step.left)}</td><td>${cell(step.right)}</td>` +
          `<td>${step.changed ? 'yes' : 'no'}${step.why.map((why) => `<div class="muted">${escapeHtml(why)}</div>`).join('')}</td></tr>`,
      )
      .join('') +
    '</tbody></table>';
  return false;
}

async function main() {
  const app = document.getElementById('app');
  const params = new URLSearchParams(location.search);
  const namespace = params.get('namespace') || 'default';
  document.getElementById('namespace').textContent = `namespace ${namespace}`;
  document.getElementById('temporal-ui-link').href =
    `${basePath()}/namespaces/${encodeURIComponent(namespace)}/workflows`;
  const render = async () => {
    try {
      if (params.get('run')) return await showRun(app, namespace, params.get('run'));
      if (params.get('compare')) return await showCompare(app, namespace, params.get('compare').split(',').slice(0, 2));
      return await showRuns(app, namespace, params.get('pipeline'));
    } catch (error) {
      app.innerHTML = `<p class="error" data-testid="view-error">${escapeHtml(error.message)}</p>`;
      return false;
    }
  };
  // Live while the run runs: query its status again every second until it ends.
  while (await render()) await new Promise((resolve) => setTimeout(resolve, REFRESH_MS));
}

if (typeof document !== 'undefined') void main();

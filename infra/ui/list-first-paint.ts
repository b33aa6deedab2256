/**
 * The workflow list's first paint: a plain page the embedded UI's `index.html` draws from the API preload's answers
 * (`infra/ui/api-preload.ts`) while the pinned `@temporalio/ui` is still loading, and takes away the moment the UI
 * shows its own rows.
 *
 * Why: with the preload, the list's first page is in the browser about 0.1 s after navigation, but the official UI
 * only shows it about 1 s after (its JavaScript boots for 0.55 to 0.7 s, then renders its frame and 100 rows of about
 * 25 components each; docs/ui.md, "Performance"). Drawing those same rows as plain HTML puts the data in front of the
 * person as soon as it arrives. It is the idea of server-side rendering (show the first view before the app is
 * interactive), done in the page because the UI is a single-page app whose layout we do not own.
 *
 * What it shows is what the UI shows next, or nothing:
 * - the rows of the very answer the UI is handed (the preload's list call, `pageSize` and `query` included), the
 *   namespace, and the count and its groups once their answer is in, with the UI's columns for the namespace (its persisted
 *   `namespace-workflow-table-columns`, else mloe's defaults of `infra/ui/build/src/routes/namespaces/[namespace]/
 *   +layout.svelte`) and the UI's text for each cell: the status label, the ids, the type, custom search attributes,
 *   and times as the UI formats them in UTC (`yyyy-MM-dd UTC HH:mm:ss.SS`);
 * - each workflow id and type a real link to the run's history, as in the UI (a click loads that page);
 * - the UI's own style classes for the badges and its surfaces, and the same geometry, so the hand-over to the UI's
 *   page does not move the rows.
 *
 * It draws nothing when it cannot be sure to match: a column it does not know how to draw (anything beyond the
 * status, ids, type, start, end, execution time, task queue, history length, state transitions and custom search
 * attributes whose values are keywords, texts or numbers in ASCII, as the UI decodes them), a time zone or relative
 * times chosen in the UI, the dark theme, an empty page, a failed call, or a page that has left the list by the time
 * the answer is in.
 *
 * It goes away, for good, when the UI's own list rows or its error page are in the page, when the page leaves the
 * list's route, when the person clicks (elsewhere than on one of its links), scrolls or types, or at the latest when
 * the preload's window ends (the UI has then had seconds to render; a first paint that stayed longer would cover what
 * the UI shows instead of rows).
 *
 * It leaves performance marks `mloe-first-paint:shown` and `mloe-first-paint:removed` for tests and benchmarks.
 */

/** The first paint's root element id and test ids (`data-testid`). */
export const FIRST_PAINT_IDS = {
  root: 'mloe-first-paint',
  row: 'mloe-first-paint-row',
  cell: 'mloe-first-paint-cell',
  header: 'mloe-first-paint-header',
} as const;

/** The performance marks it leaves. */
export const FIRST_PAINT_MARKS = { shown: 'mloe-first-paint:shown', removed: 'mloe-first-paint:removed' } as const;

/**
 * The first paint, as a function expression the preload script calls with the list route's answers:
 * `{ base, namespace, list, count, current, until }`, where `list` and `count` are promises of the parsed answers (or
 * null), `current()` says whether the page is still on that route and `until` is the preload window's end (ms in the
 * page's clock). Plain ES2015.
 */
export const LIST_FIRST_PAINT_FUNCTION = `function (p) {
  var ROOT = ${JSON.stringify(FIRST_PAINT_IDS.root)};
  var APP_ROW = '[data-testid="workflows-summary-configurable-table-row"]';
  // The shell's error page (infra/ui/build/src/routes/+error.svelte).
  var APP_ERROR = '[data-testid="mloe-error"]';
  // mloe's default columns (infra/ui/build/src/routes/namespaces/[namespace]/+layout.svelte).
  var DEFAULT_COLUMNS = ['Status', 'Workflow ID', 'Type', 'MloePipeline', 'MloeStatus', 'Start', 'End'];
  // Built-in columns the UI draws in its own way; a first paint would not match them.
  var NOT_DRAWN = {
    'Parent Namespace': 1, 'History Size': 1, 'Execution Duration': 1, 'Scheduled By ID': 1,
    'Scheduled Start Time': 1, Deployment: 1, 'Deployment Version': 1, 'Versioning Behavior': 1
  };
  var STATUS = {
    WORKFLOW_EXECUTION_STATUS_RUNNING: ['Running', 'bg-blue-300'],
    WORKFLOW_EXECUTION_STATUS_COMPLETED: ['Completed', 'bg-green-200'],
    WORKFLOW_EXECUTION_STATUS_FAILED: ['Failed', 'bg-red-200'],
    WORKFLOW_EXECUTION_STATUS_CANCELED: ['Canceled', 'bg-slate-100'],
    WORKFLOW_EXECUTION_STATUS_TERMINATED: ['Terminated', 'bg-yellow-200'],
    WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW: ['Continued as New', 'bg-purple-200'],
    WORKFLOW_EXECUTION_STATUS_TIMED_OUT: ['Timed Out', 'bg-orange-200']
  };
  var GROUP_STATUS = {
    Running: STATUS.WORKFLOW_EXECUTION_STATUS_RUNNING, Completed: STATUS.WORKFLOW_EXECUTION_STATUS_COMPLETED,
    Failed: STATUS.WORKFLOW_EXECUTION_STATUS_FAILED, Canceled: STATUS.WORKFLOW_EXECUTION_STATUS_CANCELED,
    Terminated: STATUS.WORKFLOW_EXECUTION_STATUS_TERMINATED,
    ContinuedAsNew: STATUS.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW,
    TimedOut: STATUS.WORKFLOW_EXECUTION_STATUS_TIMED_OUT
  };
  // The UI's order of statuses (models/workflow-status workflowStatuses).
  var GROUP_ORDER = ['Running', 'TimedOut', 'Completed', 'Failed', 'ContinuedAsNew', 'Canceled', 'Terminated'];
  var SEARCH_ATTRIBUTE_TYPES = { Keyword: 1, Text: 1, Int: 1, Double: 1 };
  var FILTERABLE = { 'Workflow ID': 1, 'Run ID': 1, Type: 1 };
  function stored(name) {
    var raw = window.localStorage.getItem(name);
    return raw ? JSON.parse(raw) : undefined;
  }
  // The UI's look is the default one: UTC times, absolute, the light theme.
  function defaultLook() {
    var zone = stored('timeFormat');
    var relative = stored('relativeTime');
    var dark = stored('dark mode');
    return (zone === undefined || zone === 'UTC') && !relative && !dark;
  }
  function columnsOf(namespace) {
    var all = stored('namespace-workflow-table-columns');
    var mine = all && all[namespace];
    if (!mine || !mine.length) return DEFAULT_COLUMNS;
    var labels = [];
    for (var i = 0; i < mine.length; i++) {
      var label = mine[i] && mine[i].label;
      if (typeof label !== 'string' || NOT_DRAWN[label] === 1) return undefined;
      labels.push(label);
    }
    return labels;
  }
  function escape(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  // A proto3 JSON timestamp as the UI's formatDate shows it in UTC; undefined when it is not one.
  function time(value) {
    if (value === undefined || value === null || value === '') return '';
    var m = /^(\\d{4})-(\\d\\d)-(\\d\\d)T(\\d\\d):(\\d\\d):(\\d\\d)(?:\\.(\\d+))?Z$/.exec(String(value));
    if (!m) return undefined;
    return m[1] + '-' + m[2] + '-' + m[3] + ' UTC ' + m[4] + ':' + m[5] + ':' + m[6] + '.' + ((m[7] || '') + '00').slice(0, 2);
  }
  // A payload field's text. The pinned UI decodes payloads with atob alone (no UTF-8 step), so a value with bytes
  // beyond ASCII would show differently there: throws for those, and the first paint draws nothing.
  function ascii(base64) {
    var bytes = atob(base64);
    for (var i = 0; i < bytes.length; i++) if (bytes.charCodeAt(i) > 127) throw new Error('not ASCII');
    return bytes;
  }
  // A custom search attribute's value as the UI shows it: '' when absent; undefined when it is of a type the UI
  // draws otherwise (times, booleans, lists) or cannot be read.
  function searchAttribute(workflow, name) {
    var fields = workflow.searchAttributes && workflow.searchAttributes.indexedFields;
    var payload = fields && fields[name];
    if (!payload) return '';
    var metadata = payload.metadata || {};
    if (metadata.type !== undefined && SEARCH_ATTRIBUTE_TYPES[ascii(metadata.type)] !== 1) return undefined;
    if (!metadata.encoding || ascii(metadata.encoding) !== 'json/plain' || typeof payload.data !== 'string') return undefined;
    var value = JSON.parse(ascii(payload.data));
    // The UI reads integers beyond 2^53 exactly (json-bigint); JSON.parse would round them.
    if (typeof value === 'number' && Number.isInteger(value) && !Number.isSafeInteger(value)) return undefined;
    return typeof value === 'string' || typeof value === 'number' ? String(value) : undefined;
  }
  function positive(value) {
    return parseInt(value, 10) > 0 ? String(value) : '';
  }
  // One cell's HTML; undefined when it cannot be drawn as the UI draws it.
  function cell(label, workflow, href) {
    var execution = workflow.execution || {};
    var type = (workflow.type && workflow.type.name) || '';
    var text;
    if (label === 'Status') {
      var status = STATUS[workflow.status];
      if (!status) return undefined;
      return '<span class="mloe-fp-badge ' + status[1] + '">' + status[0] + '</span>';
    }
    if (FILTERABLE[label] === 1) {
      text = label === 'Workflow ID' ? execution.workflowId : label === 'Run ID' ? execution.runId : type;
      return '<a tabindex="-1" href="' + escape(href) + '">' + escape(text || '') + '</a>';
    }
    if (label === 'Start') text = time(workflow.startTime);
    else if (label === 'End') text = time(workflow.closeTime);
    else if (label === 'Execution Time') text = time(workflow.executionTime);
    else if (label === 'Task Queue') text = workflow.taskQueue || '';
    else if (label === 'History Length') text = positive(workflow.historyLength);
    else if (label === 'State Transitions') text = positive(workflow.stateTransitionCount);
    else text = searchAttribute(workflow, label);
    return text === undefined ? undefined : escape(text);
  }
  // The title's count and the count's badges by status, filled in when the count's answer is in (it may come after
  // the list's); left out when it failed or has a group the UI would draw otherwise.
  function fillCount(root, count) {
    if (!count || count.count === undefined) return;
    var list = count.groups || [];
    var found = [];
    for (var i = 0; i < list.length; i++) {
      var value = list[i].groupValues && list[i].groupValues[0];
      var name = value && value.data ? JSON.parse(ascii(value.data)) : undefined;
      if (!GROUP_STATUS[name]) return;
      found.push({ status: GROUP_STATUS[name], order: GROUP_ORDER.indexOf(name), count: Number(list[i].count) });
    }
    // In the UI's order of statuses (its getStatusAndCountOfGroup), not the server's.
    found.sort(function (a, b) { return a.order - b.order; });
    var groups = '';
    for (var j = 0; j < found.length; j++) {
      groups += '<span class="mloe-fp-badge ' + found[j].status[1] + '">' + found[j].count.toLocaleString() + ' ' +
        found[j].status[0] + '</span>';
    }
    var total = Number(count.count);
    root.querySelector('.mloe-fp-count').textContent = total.toLocaleString();
    root.querySelector('.mloe-fp-noun').textContent = total === 1 ? 'Workflow' : 'Workflows';
    root.querySelector('.mloe-fp-groups').innerHTML = groups;
  }
  var STYLE = '#' + ROOT + '{position:fixed;inset:0;z-index:2147483000;display:flex;overflow:hidden}' +
    '#' + ROOT + ' .mloe-fp-nav{width:64px;flex:none}' +
    '#' + ROOT + ' .mloe-fp-main{flex:auto;min-width:0;overflow:hidden}' +
    '#' + ROOT + ' .mloe-fp-top{height:48px;display:flex;align-items:center;padding:0 32px;font-size:14px;line-height:20px}' +
    '#' + ROOT + ' .mloe-fp-content{padding:24px 32px 40px;display:flex;flex-direction:column;gap:8px}' +
    '#' + ROOT + ' h1{height:45px;display:flex;align-items:center;gap:8px;font-size:30px;line-height:36px;margin:1px 0 0}' +
    '#' + ROOT + ' .mloe-fp-groups{min-height:24px;display:flex;align-items:center;gap:8px;margin-bottom:64px}' +
    '#' + ROOT + ' .mloe-fp-badge{display:inline-flex;align-items:center;border-radius:2px;padding:2px 4px;font-size:12px;line-height:16px;font-weight:500;white-space:nowrap;color:#000}' +
    '#' + ROOT + ' .mloe-fp-table{border:1px solid rgb(20,20,20);overflow:hidden;max-height:calc(100vh - 254px)}' +
    '#' + ROOT + ' table{border-collapse:collapse;table-layout:auto;min-width:100%}' +
    '#' + ROOT + ' th{background:rgb(20,20,20);color:#fff;text-align:left;font-weight:400;height:40px;padding:1px 8px;white-space:nowrap}' +
    '#' + ROOT + ' td{height:37px;padding:1px 8px;white-space:nowrap;border-bottom:1px solid rgb(20,20,20)}' +
    '#' + ROOT + ' td.mloe-fp-filterable{padding-right:96px}' +
    '#' + ROOT + ' .mloe-fp-check{width:18px}' +
    '#' + ROOT + ' .mloe-fp-start{width:8px}' +
    '#' + ROOT + ' a{color:inherit;text-decoration:underline}';
  function draw(columns, workflows) {
    var ns = '/namespaces/' + encodeURIComponent(p.namespace);
    // The UI's two leading columns (a row's checkbox and its start-like-this button), empty.
    var lead = '<div class="mloe-fp-check"></div></td><td><div class="mloe-fp-start"></div></td>';
    var head = '<th>' + lead.replace(/td>/g, 'th>');
    for (var c = 0; c < columns.length; c++) head += '<th>' + escape(columns[c]) + '</th>';
    // Only the rows the window shows (the UI's table starts 222 px down, a row is 37 px high); the UI draws the rest.
    var visible = Math.min(workflows.length, Math.max(1, Math.ceil((window.innerHeight - 222) / 37) + 1));
    var body = '';
    for (var r = 0; r < visible; r++) {
      var workflow = workflows[r];
      var execution = workflow.execution || {};
      var href = p.base + ns + '/workflows/' + encodeURIComponent(execution.workflowId || '') + '/' +
        encodeURIComponent(execution.runId || '') + '/history';
      var cells = '<td>' + lead;
      for (var k = 0; k < columns.length; k++) {
        var html = cell(columns[k], workflow, href);
        if (html === undefined) return undefined;
        cells += '<td data-testid="${FIRST_PAINT_IDS.cell}"' + (FILTERABLE[columns[k]] === 1 ? ' class="mloe-fp-filterable"' : '') +
          '>' + html + '</td>';
      }
      body += '<tr data-testid="${FIRST_PAINT_IDS.row}">' + cells + '</tr>';
    }
    return '<style>' + STYLE + '</style>' +
      '<div class="mloe-fp-nav surface-black"></div>' +
      '<div class="mloe-fp-main surface-primary">' +
      '<div class="mloe-fp-top border-b border-subtle">Namespace: ' + escape(p.namespace) + '</div>' +
      '<div class="mloe-fp-content"><h1><span class="mloe-fp-count"></span> <span class="mloe-fp-noun">Workflows</span></h1>' +
      '<div class="mloe-fp-groups"></div>' +
      '<div class="mloe-fp-table"><table><thead><tr data-testid="${FIRST_PAINT_IDS.header}">' + head + '</tr></thead><tbody>' + body +
      '</tbody></table></div></div></div>';
  }
  function mark(name) {
    try { performance.mark(name); } catch (e) {}
  }
  // Calls back once the body exists: the script runs in the head, and the body is parsed long before the document
  // is loaded (its first script waits for the stylesheets), so the parser is watched for it.
  function withBody(callback) {
    if (document.body) return callback();
    var done = false;
    var once = function () {
      if (done || !document.body) return;
      done = true;
      observer.disconnect();
      callback();
    };
    var observer = new MutationObserver(once);
    observer.observe(document.documentElement, { childList: true });
    document.addEventListener('DOMContentLoaded', once);
  }
  function show(html) {
    if (!p.current() || document.querySelector(APP_ROW)) return;
    var root = document.createElement('div');
    root.id = ROOT;
    // A picture of the page to come: assistive technology reads the UI's own page, which it covers for a moment.
    root.setAttribute('aria-hidden', 'true');
    root.innerHTML = html;
    document.body.appendChild(root);
    mark(${JSON.stringify(FIRST_PAINT_MARKS.shown)});
    p.count.then(function (count) {
      try {
        fillCount(root, count);
      } catch (e) {
        // The title without its count and badges: the count's answer had a shape the UI would draw otherwise.
      }
    });
    var gone = false;
    var remove = function () {
      if (gone) return;
      gone = true;
      root.remove();
      window.removeEventListener('keydown', remove, true);
      mark(${JSON.stringify(FIRST_PAINT_MARKS.removed)});
    };
    // A person who clicks (not on one of its links), scrolls or types wants the UI beneath: it gives way at once.
    root.addEventListener('pointerdown', function (event) {
      if (!(event.target && event.target.closest && event.target.closest('a'))) remove();
    });
    root.addEventListener('wheel', remove, { passive: true });
    window.addEventListener('keydown', remove, true);
    // Checked once per frame: what a person sees changes no faster.
    var check = function () {
      if (gone) return;
      if (document.querySelector(APP_ROW) || document.querySelector(APP_ERROR) || !p.current() || performance.now() > p.until) {
        remove();
        return;
      }
      requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  }
  var columns;
  try {
    if (!defaultLook()) return;
    columns = columnsOf(p.namespace);
  } catch (e) {
    return;
  }
  if (!columns) return;
  p.list.then(function (list) {
    if (!list || !list.executions || !list.executions.length || !p.current()) return;
    var html;
    try {
      html = draw(columns, list.executions);
    } catch (e) {
      return;
    }
    if (html !== undefined) withBody(function () { show(html); });
  }).then(null, function () {});
}`;

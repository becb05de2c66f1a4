// The reasoner web console: a thin client of the service's JSON API (no private endpoints).
// Everything that came from a model, an upload or a client is put into the page with textContent
// (the `el` helper), never as HTML. The API key, if any, lives in sessionStorage and goes out as a
// bearer header, never in a URL.
'use strict';

const KEY = 'reasoner.key';
const PAGE = 50;
let timers = [];
let tip = null;

// ---------- DOM helpers ----------

function el(tag, attrs, ...kids) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  append(node, kids);
  return node;
}

function svg(tag, attrs, ...kids) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  setAttrs(node, attrs);
  append(node, kids);
  return node;
}

function setAttrs(node, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === 'on') { for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn); }
    else if (name === 'text') node.textContent = String(value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
}

function append(node, kids) {
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    node.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
}

function put(node, ...kids) {  // replaceChildren that skips null and false (the DOM's would write "null")
  node.textContent = '';
  append(node, kids);
}

function fmt(value, digits) {
  if (value === null || value === undefined) return '–';
  if (typeof value !== 'number') return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e7) return value.toLocaleString('en');
  if (Math.abs(value) >= 1e6) return value.toExponential(2);
  return value.toFixed(digits === undefined ? 2 : digits);
}

const pct = (x) => (x === null || x === undefined ? '–' : (100 * x).toFixed(1) + '%');

function verdictBadge(status, correct) {
  if (status === null || status === undefined) return el('span', {class: 'badge', text: 'ungraded'});
  return el('span', {class: 'badge ' + (correct ? 'ok' : 'bad'), text: status});
}

// ---------- the API ----------

class ApiError extends Error {}

function headers(json) {
  const out = {};
  const key = sessionStorage.getItem(KEY);
  if (key) out.Authorization = 'Bearer ' + key;
  if (json) out['Content-Type'] = 'application/json';
  return out;
}

async function api(path, options) {
  const opts = options || {};
  const response = await fetch(path, {method: opts.method || 'GET', headers: headers(opts.body !== undefined),
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body), cache: 'no-store'});
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!response.ok) {
    const err = data && data.error ? data.error : {message: text.slice(0, 300)};
    const hint = response.status === 401 ? ' (enter your API key above)' : '';
    throw new ApiError(`${response.status}: ${err.message}${err.param ? ' [' + err.param + ']' : ''}${hint}`);
  }
  return data;
}

function showError(where, error) {
  put(where, el('p', {class: 'error', role: 'alert', text: String(error.message || error)}));
}

function repeat(fn, ms) {
  const id = setInterval(fn, ms);
  timers.push(id);
  return id;
}

// ---------- routing ----------

const ROUTES = [
  [/^#\/playground$/, playground],
  [/^#\/jobs$/, jobsPage],
  [/^#\/job\/([^/]+)$/, jobPage],
  [/^#\/job\/([^/]+)\/problem\/(.+)$/, problemPage],
  [/^#\/compare\/([^/]+)\/([^/]+)$/, comparePage],
];

async function route() {
  timers.forEach(clearInterval);
  timers = [];
  hideTip();
  const hash = location.hash || '#/jobs';
  const main = document.getElementById('main');
  put(main, el('p', {class: 'muted', text: 'Loading…'}));
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('current', hash.startsWith('#/' + a.dataset.page)));
  if (!await mayCallApi(main)) return;
  for (const [pattern, view] of ROUTES) {
    const match = hash.match(pattern);
    if (match) {
      try { await view(main, ...match.slice(1).map(decodeURIComponent)); } catch (e) { showError(main, e); }
      return;
    }
  }
  put(main, el('p', {text: 'No such page. '}, el('a', {href: '#/jobs', text: 'Jobs'})));
}

let access = null;

// Whether the API may be called now: a keyed server with no key in this tab gets the key form instead of a
// request that would fail with 401 (and log it in the console). `/ui/access` says only whether keys are on.
async function mayCallApi(main) {
  if (!access) {
    try { access = await api('/ui/access'); } catch (e) { showError(main, e); return false; }
  }
  if (!access.keys || sessionStorage.getItem(KEY)) return true;
  put(main, el('p', {class: 'error', role: 'alert', id: 'needkey',
    text: 'This server needs an API key: enter it in the key box above (it is kept for this tab only).'}));
  document.getElementById('key').focus();
  return false;
}

function keyForm() {
  const input = document.getElementById('key');
  const state = document.getElementById('keystate');
  const show = () => { state.textContent = sessionStorage.getItem(KEY) ? 'key set for this tab' : 'no key'; };
  document.getElementById('keyform').addEventListener('submit', (event) => {
    event.preventDefault();
    if (input.value) sessionStorage.setItem(KEY, input.value);
    input.value = '';
    show();
    route();
  });
  document.getElementById('forget').addEventListener('click', () => { sessionStorage.removeItem(KEY); show(); route(); });
  show();
}

// ---------- Jobs ----------

async function jobsPage(main) {
  const [strategies, listing] = await Promise.all([api('/v1/strategies'), api('/v1/jobs')]);
  const table = el('div');
  const form = jobForm(strategies, () => refresh());
  const compare = el('button', {type: 'button', id: 'compare', text: 'Compare the two ticked jobs', disabled: true});
  put(main, el('h1', {text: 'Jobs'}), el('h2', {text: 'Submit a job'}), form,
    el('h2', {text: 'Your jobs'}), el('div', {class: 'row'}, compare), table);
  const ticked = new Set();
  compare.addEventListener('click', () => {
    const [a, b] = [...ticked];
    location.hash = `#/compare/${encodeURIComponent(a)}/${encodeURIComponent(b)}`;
  });
  const stats = {};
  let last = null;
  async function refresh() {
    const jobs = (await api('/v1/jobs')).data;
    for (const job of jobs) {
      if (job.kind === 'solve' && (job.status === 'running' || !stats[job.id] || stats[job.id].status !== job.status)) {
        stats[job.id] = await api(`/v1/jobs/${encodeURIComponent(job.id)}/stats`);
      }
    }
    const now = JSON.stringify([jobs, jobs.map((job) => stats[job.id])]);
    if (now === last) return;  // unchanged: keep the table (and the keyboard focus in it) as it is
    last = now;
    put(table, jobsTable(jobs, stats, ticked, () => { compare.disabled = ticked.size !== 2; }, refresh));
  }
  put(table, jobsTable(listing.data, stats, ticked, () => {}, refresh));
  await refresh();
  repeat(() => refresh().catch((e) => showError(table, e)), 1500);
}

function jobsTable(jobs, stats, ticked, onTick, refresh) {
  if (!jobs.length) return el('p', {class: 'muted', text: 'No jobs yet.'});
  const head = el('tr', {}, ['', 'Job', 'Kind', 'Strategy', 'Status', 'Progress', 'Accuracy so far', 'Tokens/s', 'Created', '']
    .map((h) => el('th', {text: h})));
  const rows = jobs.map((job) => {
    const s = stats[job.id];
    const box = el('input', {type: 'checkbox', 'aria-label': 'compare ' + job.id, checked: ticked.has(job.id),
      disabled: job.kind !== 'solve'});
    box.addEventListener('change', () => { box.checked ? ticked.add(job.id) : ticked.delete(job.id); onTick(); });
    const unfinished = job.status === 'queued' || job.status === 'running';
    const action = el('button', {type: 'button', text: unfinished ? 'Cancel' : 'Delete'});
    action.addEventListener('click', async () => {
      if (!unfinished && !confirm('Delete job ' + job.id + ' and its records?')) return;
      await api(`/v1/jobs/${encodeURIComponent(job.id)}`, {method: 'DELETE'});
      ticked.delete(job.id);
      refresh();
    });
    const strategy = job.kind === 'sweep' ? (job.config.strategies || []).join(', ') : job.config.strategy;
    return el('tr', {'data-job': job.id, 'data-status': job.status}, el('td', {}, box),
      el('td', {}, el('a', {href: '#/job/' + encodeURIComponent(job.id), text: job.id})),
      el('td', {text: job.kind}), el('td', {text: strategy}),
      el('td', {class: 'status ' + (job.status === 'succeeded' ? 'ok' : job.status === 'failed' ? 'bad' : ''), text: job.status}),
      el('td', {}, el('progress', {max: job.progress.total || 1, value: job.progress.done}),
        ` ${job.progress.done}/${job.progress.total}`),
      el('td', {class: 'num', text: s ? `${pct(s.overall.accuracy)} of ${s.overall.problems}` : '–'}),
      el('td', {class: 'num', text: s ? fmt(s.tokens_per_s, 1) : '–'}),
      el('td', {text: new Date(job.created * 1000).toLocaleString()}), el('td', {}, action));
  });
  return el('table', {id: 'jobs'}, el('thead', {}, head), el('tbody', {}, rows));
}

function jobForm(strategies, done) {
  const names = Object.keys(strategies.strategies);
  const kind = el('select', {name: 'kind'}, el('option', {value: 'solve', text: 'solve'}), el('option', {value: 'sweep', text: 'sweep'}));
  const dataset = el('select', {name: 'dataset'}, ['arith', 'pyfunc', 'humaneval'].map((d) => el('option', {value: d, text: d})),
    el('option', {value: '', text: 'uploaded file'}));
  const file = el('input', {type: 'file', name: 'file', accept: '.jsonl,.json,.txt'});
  const limit = el('input', {type: 'number', name: 'limit', min: 1, value: 4});
  const strategy = el('select', {name: 'strategy'}, names.map((n) => el('option', {value: n, text: n, selected: n === 'self_consistency'})));
  const n = el('input', {type: 'number', name: 'n', min: 1, value: 2});
  const maxTokens = el('input', {type: 'number', name: 'max_tokens', min: 1, value: 32});
  const sweepStrategies = el('input', {name: 'sweep_strategies', value: 'self_consistency', size: 24});
  const budgets = el('input', {name: 'budgets', value: '1,2,4'});
  const status = el('p', {role: 'status', class: 'muted'});
  const form = el('form', {class: 'grid', id: 'jobform'},
    el('label', {}, 'Kind', kind), el('label', {}, 'Dataset', dataset), el('label', {}, 'or upload JSONL', file),
    el('label', {}, 'Problems (limit)', limit), el('label', {}, 'Strategy (solve)', strategy),
    el('label', {}, 'n (solve)', n), el('label', {}, 'max_tokens', maxTokens),
    el('label', {}, 'Sweep strategies (comma)', sweepStrategies), el('label', {}, 'Sweep budgets', budgets),
    el('div', {}, el('button', {type: 'submit', text: 'Submit job'})), el('div', {class: 'wide'}, status));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    status.textContent = 'submitting…';
    try {
      const body = {limit: Number(limit.value) || undefined};
      if (dataset.value) body.dataset = dataset.value;
      else if (file.files.length) body.data = await file.files[0].text();
      else throw new ApiError('pick a dataset or a file to upload');
      if (kind.value === 'sweep') {
        body.sweep = {strategies: sweepStrategies.value.split(',').map((s) => s.trim()).filter(Boolean),
          budgets: budgets.value.split(',').map(Number), max_tokens: Number(maxTokens.value)};
      } else {
        body.strategy = strategy.value;
        const fields = strategies.strategies[strategy.value] || {};
        body.options = {};
        if ('n' in fields) body.options.n = Number(n.value);
        if ('max_tokens' in fields) body.options.max_tokens = Number(maxTokens.value);
      }
      const job = await api('/v1/jobs', {method: 'POST', body});
      status.textContent = 'submitted ' + job.id;
      done();
    } catch (e) { status.textContent = ''; status.append(el('span', {class: 'error', text: e.message})); }
  });
  return form;
}

// ---------- one job ----------

async function jobPage(main, id) {
  const job = await api(`/v1/jobs/${encodeURIComponent(id)}`);
  if (job.kind === 'sweep') return sweepPage(main, job);
  const head = el('div');
  const body = el('div');
  put(main, el('h1', {text: 'Job ' + job.id}), head, body);
  let shown = null;
  async function refresh() {
    const [now, stats] = await Promise.all([api(`/v1/jobs/${encodeURIComponent(id)}`), api(`/v1/jobs/${encodeURIComponent(id)}/stats`)]);
    put(head, jobHeader(now, stats));
    if (shown !== now.status || now.status === 'running') {
      shown = now.status;
      put(body, ...await jobBody(now, stats));
    }
  }
  await refresh();
  repeat(() => { if (shown === 'running' || shown === 'queued') refresh().catch((e) => showError(head, e)); }, 1500);
}

function jobHeader(job, stats) {
  const c = job.config;
  return el('div', {},
    el('p', {}, 'Status: ', el('strong', {class: 'status', id: 'status', text: job.status}), ' · ',
      el('progress', {max: job.progress.total || 1, value: job.progress.done}), ` ${job.progress.done}/${job.progress.total} problems · `,
      `${c.strategy} ${JSON.stringify(c.strategy_options || {})} on ${c.dataset} · model ${shortName(c.model)}`),
    job.error ? el('p', {class: 'error', text: job.error}) : null,
    el('p', {}, el('a', {href: '#/jobs', text: '← all jobs'})));
}

async function jobBody(job, stats) {
  const enc = encodeURIComponent(job.id);
  const [slow, costly] = await Promise.all([api(`/v1/jobs/${enc}/problems?order=wall&limit=5`),
    api(`/v1/jobs/${enc}/problems?order=tokens&limit=5`)]);
  const o = stats.overall;
  return [
    el('h2', {text: 'Accuracy by level'}), accuracyTable(stats),
    el('h2', {text: 'Cost'}),
    el('dl', {class: 'kv'}, ...kv({'prompt tokens': o.prompt_tokens, 'cached prompt tokens': o.cached_prompt_tokens,
      'generated tokens': o.generated_tokens, 'PRM tokens': o.prm_tokens, 'FLOPs': o.flops,
      'strategy wall seconds (sum)': o.wall_seconds, 'generated tokens per second': stats.tokens_per_s})),
    el('h2', {text: 'Ungradable problems'}),
    el('p', {id: 'ungradable', text: stats.ungradable_ids.length ? stats.ungradable_ids.join(', ') : 'none'}),
    el('div', {class: 'side'},
      el('div', {}, el('h2', {text: 'Slowest problems'}), miniTable(job, slow.data, 'wall_seconds', 'wall s')),
      el('div', {}, el('h2', {text: 'Most expensive problems'}), miniTable(job, costly.data, 'generated_tokens', 'tokens'))),
    el('h2', {text: 'Problems'}), problemTable(job, stats)];
}

function kv(pairs) {
  return Object.entries(pairs).flatMap(([k, v]) => [el('dt', {text: k}), el('dd', {text: fmt(v)})]);
}

function ciBar(low, high, mid) {
  const bar = el('span', {class: 'bar', 'aria-hidden': 'true'});
  const span = el('span');
  span.style.left = (100 * low) + '%';
  span.style.width = (100 * (high - low)) + '%';
  const tick = el('i');
  tick.style.left = (100 * mid) + '%';
  bar.append(span, tick);
  return bar;
}

function accuracyTable(stats) {
  const head = el('tr', {}, ['Level', 'Problems', 'Correct', 'Ungradable', 'Accuracy', '95% interval (Wilson)', '']
    .map((h, i) => el('th', {class: i > 0 && i < 6 ? 'num' : '', text: h})));
  const line = (name, b) => el('tr', {}, el('td', {text: name}), el('td', {class: 'num', text: b.problems}),
    el('td', {class: 'num', text: b.correct}), el('td', {class: 'num', text: b.ungradable}),
    el('td', {class: 'num', text: pct(b.accuracy)}), el('td', {class: 'num', text: `${pct(b.ci_low)} – ${pct(b.ci_high)}`}),
    el('td', {}, ciBar(b.ci_low, b.ci_high, b.accuracy)));
  const levels = Object.entries(stats.by_level).map(([level, b]) => line('level ' + level, b));
  return el('table', {id: 'accuracy'}, el('thead', {}, head), el('tbody', {}, levels, line('all', stats.overall)));
}

function problemLink(job, pid) {
  return el('a', {href: `#/job/${encodeURIComponent(job.id)}/problem/${encodeURIComponent(pid)}`, text: pid});
}

function miniTable(job, rows, field, label) {
  return el('table', {}, el('thead', {}, el('tr', {}, el('th', {text: 'Problem'}), el('th', {class: 'num', text: label}), el('th', {text: 'Verdict'}))),
    el('tbody', {}, rows.map((r) => el('tr', {}, el('td', {}, problemLink(job, r.problem_id)),
      el('td', {class: 'num', text: fmt(r[field])}), el('td', {}, verdictBadge(r.status, r.correct))))));
}

function problemTable(job, stats) {
  const verdict = el('select', {'aria-label': 'verdict'}, ['all', 'right', 'wrong', 'ungradable'].map((v) => el('option', {value: v, text: v})));
  const level = el('select', {'aria-label': 'level'}, el('option', {value: '', text: 'every level'}),
    Object.keys(stats.by_level).map((l) => el('option', {value: l, text: 'level ' + l})));
  const order = el('select', {'aria-label': 'order'}, [['seq', 'as solved'], ['tokens', 'most tokens'], ['wall', 'slowest'], ['flops', 'most FLOPs']]
    .map(([v, t]) => el('option', {value: v, text: t})));
  const prev = el('button', {type: 'button', text: '← previous'});
  const next = el('button', {type: 'button', text: 'next →'});
  const where = el('span', {class: 'muted', role: 'status'});
  const body = el('tbody');
  let offset = 0;
  async function load() {
    const query = new URLSearchParams({verdict: verdict.value, order: order.value, offset: String(offset), limit: String(PAGE)});
    if (level.value) query.set('level', level.value);
    const page = await api(`/v1/jobs/${encodeURIComponent(job.id)}/problems?${query}`);
    where.textContent = page.total ? `${offset + 1}–${offset + page.data.length} of ${page.total}` : 'no problems match';
    prev.disabled = offset === 0;
    next.disabled = offset + page.data.length >= page.total;
    put(body, ...page.data.map((r) => el('tr', {}, el('td', {}, problemLink(job, r.problem_id)),
      el('td', {text: r.level === null ? '–' : r.level}), el('td', {}, verdictBadge(r.status, r.correct)),
      el('td', {class: 'text-cell', text: r.answer === null ? '–' : r.answer}), el('td', {text: r.reference === null ? '–' : r.reference}),
      el('td', {class: 'num', text: r.candidates}), el('td', {class: 'num', text: fmt(r.generated_tokens)}),
      el('td', {class: 'num', text: fmt(r.wall_seconds)}))));
  }
  for (const control of [verdict, level, order]) control.addEventListener('change', () => { offset = 0; load(); });
  prev.addEventListener('click', () => { offset = Math.max(0, offset - PAGE); load(); });
  next.addEventListener('click', () => { offset += PAGE; load(); });
  load();
  const head = el('tr', {}, ['Problem', 'Level', 'Verdict', 'Answer', 'Reference', 'Candidates', 'Tokens', 'Wall s'].map((h) => el('th', {text: h})));
  return el('div', {}, el('div', {class: 'row'}, verdict, level, order, prev, next, where),
    el('table', {id: 'problems'}, el('thead', {}, head), body));
}

// ---------- one problem ----------

async function problemPage(main, id, pid) {
  const p = await api(`/v1/jobs/${encodeURIComponent(id)}/problems/${encodeURIComponent(pid)}`);
  put(main, el('h1', {text: 'Problem ' + p.problem_id}),
    el('p', {}, el('a', {href: '#/job/' + encodeURIComponent(id), text: '← job ' + id})),
    problemDetail(p));
}

function problemDetail(p) {
  return el('div', {class: 'problem'},
    el('dl', {class: 'kv'},
      el('dt', {text: 'verdict'}), el('dd', {}, verdictBadge(p.status, p.correct), p.detail ? ' ' + p.detail : ''),
      el('dt', {text: 'answer'}), el('dd', {class: 'answer', text: p.answer === null ? '–' : p.answer}),
      el('dt', {text: 'reference'}), el('dd', {text: p.reference === null ? '– (tests, kept on the server)' : p.reference}),
      el('dt', {text: 'strategy'}), el('dd', {text: `${p.strategy} (stopped: ${p.stop_reason})`}),
      el('dt', {text: 'level'}), el('dd', {text: p.level === null ? '–' : p.level}),
      el('dt', {text: 'cost'}), el('dd', {text: costLine(p.cost)})),
    p.error ? el('p', {class: 'error', text: p.error}) : null,
    el('h2', {text: 'Prompt'}), el('pre', {class: 'prompt', text: p.prompt === null ? '(not stored)' : p.prompt}),
    traceView(p.trace, p.candidates),
    p.tree ? el('div', {}, el('h2', {text: 'Search tree'}), treeView(p.tree)) : null,
    el('h2', {text: `Candidates (${p.candidates.length})`}), candidateCards(p.candidates, p.chosen));
}

function costLine(c) {
  if (!c) return '–';
  return `${fmt(c.prompt_tokens)} prompt (${fmt(c.cached_prompt_tokens)} cached), ${fmt(c.generated_tokens)} generated, ` +
    `${fmt(c.prm_tokens || 0)} PRM tokens, ${fmt(c.flops)} FLOPs, ${fmt(c.wall_seconds)} s, ${fmt(c.model_calls)} model calls`;
}

function candidateCards(candidates, chosen) {
  return el('div', {class: 'cards', id: 'candidates'}, candidates.map((c, i) => el('div', {class: 'card candidate' + (i === chosen ? ' chosen' : '')},
    el('h3', {}, `#${i}`, i === chosen ? el('span', {class: 'badge', text: 'chosen'}) : null,
      c.verdict ? verdictBadge(c.verdict, c.verdict === 'correct') : null,
      el('span', {class: 'muted', text: `answer: ${c.extracted === null || c.extracted === undefined ? '–' : c.extracted}`}),
      el('span', {class: 'muted', text: `${c.num_tokens} tokens, ${c.finish_reason}`})),
    el('div', {class: 'text', text: c.text}))));
}

function traceView(trace, candidates) {
  const parts = [];
  for (const event of trace || []) {
    if (event.kind === 'vote') {
      const groups = Object.entries(event.data.groups || {});
      parts.push(el('div', {}, el('h2', {text: 'Votes'}), groups.length ? null : el('p', {class: 'muted', text: 'No candidate gave an answer to vote on.'}),
        el('table', {id: 'votes'}, el('thead', {}, el('tr', {}, el('th', {text: 'group'}),
        el('th', {text: 'answer'}), el('th', {class: 'num', text: 'votes'}), el('th', {class: 'num', text: 'weight'}))),
        el('tbody', {}, groups.map(([label, members]) => {
          const first = Array.isArray(members) ? members[0] : null;
          const answer = candidates[first] ? candidates[first].extracted : null;
          return el('tr', {}, el('td', {text: label}), el('td', {text: answer === null || answer === undefined ? '–' : answer}),
            el('td', {class: 'num', text: Array.isArray(members) ? members.length : members}),
            el('td', {class: 'num', text: fmt((event.data.weights || {})[label])}));
        })))));
    } else if (event.kind === 'score') {
      parts.push(el('div', {}, el('h2', {text: `Scores (${event.data.scorer || 'scorer'})`}),
        el('p', {class: 'scores', text: (event.data.scores || []).map((s, i) => `#${i}: ${fmt(s, 3)}`).join(' · ')})));
    }
  }
  return el('div', {}, parts);
}

// ---------- search trees ----------

function treeView(tree) {
  if (tree.error) return el('p', {class: 'error', text: tree.error});
  const byId = new Map(tree.nodes.map((n) => [n.id, n]));
  const chosen = new Set(tree.chosen_path || []);
  const firstWrong = new Set(tree.first_wrong || []);
  const pos = new Map();
  let leaf = 0;
  const place = (id) => {
    const node = byId.get(id);
    const kids = (node.children || []).filter((k) => byId.has(k));
    if (!kids.length) { pos.set(id, leaf++); return pos.get(id); }
    const xs = kids.map(place);
    pos.set(id, (Math.min(...xs) + Math.max(...xs)) / 2);
    return pos.get(id);
  };
  place(tree.nodes[0].id);
  const dx = 34, dy = 56, pad = 24;
  const depth = Math.max(...tree.nodes.map((n) => n.depth));
  const width = Math.max(leaf, 1) * dx + 2 * pad, height = (depth + 1) * dy + 2 * pad;
  const x = (id) => pad + pos.get(id) * dx + dx / 2, y = (n) => pad + n.depth * dy;
  const detail = el('pre', {class: 'step', text: 'Select a node (click, or Tab then Enter) to read its step.'});
  const edges = [], nodes = [];
  for (const n of tree.nodes) {
    if (n.parent !== null && byId.has(n.parent)) {
      const p = byId.get(n.parent);
      edges.push(svg('path', {class: 'edge' + (chosen.has(n.id) && chosen.has(p.id) ? ' chosen' : ''),
        d: `M${x(p.id)},${y(p)} C${x(p.id)},${y(p) + dy / 2} ${x(n.id)},${y(n) - dy / 2} ${x(n.id)},${y(n)}`}));
    }
    const label = `node ${n.id}, depth ${n.depth}, score ${fmt(n.score, 3)}, visits ${n.visits}` +
      `${n.pruned ? ', pruned' : ''}${n.finished ? ', finished' : ''}${chosen.has(n.id) ? ', on the chosen path' : ''}` +
      `${firstWrong.has(n.id) ? ', first wrong step' : ''}`;
    const show = () => { detail.textContent = label + '\n\n' + n.text; };
    const circle = svg('circle', {class: 'node' + (chosen.has(n.id) ? ' chosen' : '') + (n.pruned ? ' pruned' : '') +
      (firstWrong.has(n.id) ? ' firstwrong' : ''), cx: x(n.id), cy: y(n), r: 8, fill: scoreColour(n.score), tabindex: 0,
      role: 'button', 'aria-label': label, 'data-node': n.id, 'data-parent': n.parent === null ? '' : n.parent, on: {click: show, focus: show, keydown: (e) => { if (e.key === 'Enter') show(); }}},
      svg('title', {text: label + '\n' + n.text.slice(0, 300)}));
    nodes.push(circle, svg('text', {x: x(n.id) + 10, y: y(n) + 3, text: n.score === null ? '' : fmt(n.score, 2) + (tree.nodes.some((m) => m.visits > 1) ? ` ·${n.visits}` : '')}));
  }
  const legend = el('p', {class: 'muted', id: 'treelegend', text: tree.live
    ? `growing: ${tree.nodes.length} nodes so far (the chosen path is marked when the search ends); fill: score (red low, green high).`
    : `value source ${tree.value_source}; ${tree.nodes.length} nodes; blue ring: chosen path` +
      (tree.checked ? `; red ring: first wrong step (${firstWrong.size})` : '; this task has no exact step checker') +
      '; fill: score (red low, green high); faded: pruned.'});
  return el('div', {}, legend, el('div', {class: 'tree'}, svg('svg', {width, height, id: 'tree', role: 'group', 'aria-label': 'search tree',
    'data-state': tree.live ? 'growing' : 'final'}, edges, nodes)), detail);
}

// A search tree as the playground's progress stream reveals it: the `nodes` events (new nodes with their
// parent, step text and score) hung under the root, redrawn with `treeView` as they come.
class LiveTree {
  constructor(box) {
    this.box = box;
    this.nodes = new Map([[0, {id: 0, parent: null, depth: 0, text: '', score: null, visits: 0, children: []}]]);
    this.waiting = [];  // nodes whose parent has not come yet (the events keep order, so this stays empty)
  }

  add(nodes) {
    this.waiting.push(...nodes);
    let placed = true;
    while (placed) {
      placed = false;
      for (const node of [...this.waiting]) {
        const parent = this.nodes.get(node.parent);
        if (!parent) continue;
        this.waiting.splice(this.waiting.indexOf(node), 1);
        if (this.nodes.has(node.id)) continue;  // sent twice: drawn once
        this.nodes.set(node.id, {...node, children: []});
        parent.children.push(node.id);
        placed = true;
      }
    }
    put(this.box, el('h2', {text: 'Search tree'}), treeView({live: true, nodes: [...this.nodes.values()], chosen_path: []}));
  }
}

function scoreColour(score) {
  if (score === null || score === undefined) return '#ddd';
  const s = Math.max(0, Math.min(1, score));
  return `hsl(${Math.round(120 * s)}, 60%, 55%)`;
}

// ---------- sweeps ----------

const COLOURS = {cot: '#000000', self_consistency: '#0072B2', best_of_n: '#D55E00', adaptive_consistency: '#56B4E9',
  revision: '#CC79A7', beam_search: '#009E73', dvts: '#E69F00', mcts: '#332288', particle_filter: '#882255', router: '#999933',
  oracle_router: '#AA4499'};
const SPARE = ['#44AA99', '#117733', '#DDCC77', '#88CCEE', '#888888'];
const DASHES = ['', '6 3', '2 3', '8 3 2 3'];

function colourOf(name) {
  if (COLOURS[name]) return COLOURS[name];
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return SPARE[h % SPARE.length];
}

async function sweepPage(main, job) {
  const head = el('div');
  const body = el('div');
  put(main, el('h1', {text: 'Sweep ' + job.id}), head, body);
  let drawn = false;
  async function refresh() {
    const now = await api(`/v1/jobs/${encodeURIComponent(job.id)}`);
    put(head, el('p', {}, 'Status: ', el('strong', {id: 'status', text: now.status}), ' · ',
      el('progress', {max: now.progress.total || 1, value: now.progress.done}), ` ${now.progress.done}/${now.progress.total} runs · `,
      `strategies ${(now.config.strategies || []).join(', ')}, budgets ${(now.config.budgets || []).join(', ')}`),
      now.error ? el('p', {class: 'error', text: now.error}) : null, el('p', {}, el('a', {href: '#/jobs', text: '← all jobs'})));
    if (now.status === 'succeeded' && !drawn) {
      drawn = true;
      const summary = await api(`/v1/jobs/${encodeURIComponent(job.id)}/artifacts/summary.json`);
      put(body, sweepView(summary));
    } else if (!drawn) put(body, el('p', {class: 'muted', text: 'The curves are drawn when the sweep has finished.'}));
  }
  await refresh();
  repeat(() => { if (!drawn) refresh().catch((e) => showError(head, e)); }, 1500);
}

function sweepView(summary) {
  const rows = summary.rows;
  const models = [...new Set(rows.map((r) => r.model))], strategies = [...new Set(rows.map((r) => r.strategy))];
  const levels = [...new Set(rows.flatMap((r) => Object.keys(r.by_level || {})))].sort((a, b) => a - b);
  const on = {models: new Set(models), strategies: new Set(strategies)};
  const charts = el('div', {class: 'charts', id: 'curves'});
  const toggles = (names, set, label) => el('fieldset', {}, el('legend', {text: label}), names.map((name) => {
    const box = el('input', {type: 'checkbox', checked: true, 'data-toggle': name});
    box.addEventListener('change', () => { box.checked ? set.add(name) : set.delete(name); draw(); });
    const swatch = label === 'Strategies' ? el('span', {class: 'swatch'}) : null;
    if (swatch) swatch.style.background = colourOf(name);
    return el('label', {class: 'legend'}, box, swatch, shortName(name));
  }));
  const panels = [['all', 'all problems'], ...levels.map((l) => [l, 'level ' + l])];
  function draw() {
    const shown = rows.filter((r) => on.models.has(r.model) && on.strategies.has(r.strategy));
    put(charts, ...panels.flatMap(([level, title]) => ['mean_generated_tokens', 'mean_flops'].map((field) =>
      curveChart(shown, models, field, level, `${title}: accuracy vs ${field === 'mean_flops' ? 'FLOPs' : 'generated tokens'} per problem`))));
  }
  draw();
  const best = Object.entries(summary.compute_optimal || {}).map(([level, c]) => el('tr', {}, el('td', {text: level}),
    el('td', {text: `${shortName(c.model)}/${c.strategy}@${c.budget}`}), el('td', {class: 'num', text: pct(c.accuracy)}),
    el('td', {class: 'num', text: fmt(c.mean_flops)}), el('td', {text: c.best})));
  return el('div', {}, el('div', {class: 'row'}, toggles(strategies, on.strategies, 'Strategies'), toggles(models, on.models, 'Models')),
    charts, el('p', {class: 'muted', text: `${summary.problems} problems. Grey band: compute-optimal frontier. Hover or focus a point for its numbers. ${summary.notes.ci || ''}`}),
    el('h2', {text: 'Compute-optimal choice per level'}), el('table', {}, el('thead', {}, el('tr', {}, ['Level', 'Row', 'Accuracy', 'FLOPs', 'Most accurate'].map((h) => el('th', {text: h})))),
      el('tbody', {}, best)),
    el('h2', {text: 'Rows'}), sweepTable(rows));
}

function shortName(name) { return String(name).split('/').filter(Boolean).pop(); }

function sweepTable(rows) {
  return el('table', {id: 'sweeprows'}, el('thead', {}, el('tr', {}, ['Model', 'Strategy', 'Budget', 'Accuracy', '95% CI', 'Tokens', 'FLOPs', 'Wall s', 'Replayed']
    .map((h) => el('th', {text: h})))), el('tbody', {}, rows.map((r) => el('tr', {}, el('td', {text: shortName(r.model)}), el('td', {text: r.strategy}),
    el('td', {class: 'num', text: r.budget}), el('td', {class: 'num', text: pct(r.accuracy)}), el('td', {class: 'num', text: `${pct(r.ci_low)}–${pct(r.ci_high)}`}),
    el('td', {class: 'num', text: fmt(r.mean_generated_tokens, 1)}), el('td', {class: 'num', text: fmt(r.mean_flops)}),
    el('td', {class: 'num', text: fmt(r.mean_wall_s, 3)}), el('td', {text: r.subsampled ? 'yes' : 'no'})))));
}

function frontierOf(points) {
  const kept = [];
  let best = -Infinity;
  for (const p of [...points].sort((a, b) => a.x - b.x || b.y - a.y)) if (p.y > best) { kept.push(p); best = p.y; }
  return kept;
}

function curveChart(rows, models, field, level, title) {
  const W = 600, H = 280, L = 48, R = 12, T = 26, B = 40;
  const stat = (r) => (level === 'all' ? r : (r.by_level || {})[level]);
  const series = new Map();
  for (const r of rows) {
    const s = stat(r);
    if (!s || !(s[field] > 0)) continue;
    const key = r.model + '\u0000' + r.strategy;
    if (!series.has(key)) series.set(key, []);
    series.get(key).push({x: s[field], y: s.accuracy, low: s.ci_low, high: s.ci_high, row: r, n: s.problems});
  }
  const points = [...series.values()].flat();
  const chart = svg('svg', {class: 'chart', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title, 'data-field': field, 'data-level': level});
  chart.append(svg('text', {x: L, y: 16, text: title}));
  if (!points.length) { chart.append(svg('text', {x: W / 2 - 40, y: H / 2, text: 'nothing recorded'})); return chart; }
  const xs = points.map((p) => Math.log10(p.x));
  let x0 = Math.min(...xs), x1 = Math.max(...xs);
  if (x1 - x0 < 1e-9) { x0 -= 0.5; x1 += 0.5; }
  const pad = (x1 - x0) * 0.06;
  x0 -= pad; x1 += pad;
  const sx = (v) => L + (Math.log10(v) - x0) / (x1 - x0) * (W - L - R);
  // accuracy range: the intervals' span rounded out to 5 points, as `reasoner report --plots` draws it
  let y0 = Math.max(0, Math.floor((Math.min(...points.map((p) => p.low)) - 0.02) * 20) / 20);
  let y1 = Math.min(1, Math.ceil((Math.max(...points.map((p) => p.high)) + 0.02) * 20) / 20);
  if (y1 - y0 < 0.1) { y1 = Math.min(1, y0 + 0.1); y0 = y1 - 0.1; }
  const sy = (v) => T + (y1 - v) / (y1 - y0) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const v = y0 + (y1 - y0) * i / 4;
    chart.append(svg('line', {x1: L, x2: W - R, y1: sy(v), y2: sy(v), stroke: '#eee'}), svg('text', {x: 6, y: sy(v) + 4, text: pct(v)}));
  }
  const decades = [];
  for (let e = Math.ceil(x0); e <= Math.floor(x1); e++) decades.push(10 ** e);
  const ticks = decades.length >= 2 ? decades : [0.1, 0.5, 0.9].map((f) => 10 ** (x0 + f * (x1 - x0)));
  for (const t of ticks) {
    chart.append(svg('line', {x1: sx(t), x2: sx(t), y1: T, y2: H - B, stroke: '#eee'}),
      svg('text', {x: sx(t) - 12, y: H - B + 14, text: t >= 1e4 ? t.toExponential(1) : fmt(Math.round(t * 10) / 10, 1)}));
  }
  chart.append(svg('text', {x: L, y: H - 8, text: field === 'mean_flops' ? 'FLOPs per problem (log)' : 'generated tokens per problem (log)'}));
  const front = frontierOf(points);
  const right = Math.max(...points.map((p) => p.x));
  let d = `M${sx(front[0].x)},${sy(front[0].y)}`;
  front.forEach((p, i) => { const next = front[i + 1]; d += ` H${sx(next ? next.x : right)}`; if (next) d += ` V${sy(next.y)}`; });
  chart.append(svg('path', {class: 'frontier', d, 'data-frontier': front.length}));
  for (const [key, pts] of series) {
    const [model, strategy] = key.split('\u0000');
    pts.sort((a, b) => a.x - b.x);
    const colour = colourOf(strategy);
    chart.append(svg('polyline', {class: 'series', stroke: colour, 'stroke-dasharray': DASHES[models.indexOf(model) % DASHES.length],
      points: pts.map((p) => `${sx(p.x)},${sy(p.y)}`).join(' '), 'data-series': `${shortName(model)} ${strategy}`}));
    for (const p of pts) {
      chart.append(svg('line', {x1: sx(p.x), x2: sx(p.x), y1: sy(p.low), y2: sy(p.high), stroke: colour, 'stroke-opacity': 0.5}));
      const text = `${shortName(model)} ${strategy}@${p.row.budget}\naccuracy ${pct(p.y)} (95% ${pct(p.low)}–${pct(p.high)}, ${p.n} problems)\n` +
        `${field === 'mean_flops' ? 'FLOPs' : 'tokens'} per problem ${fmt(p.x)}${p.row.subsampled ? '\nreplayed from shared samples' : ''}`;
      const dot = svg('circle', {class: 'pt', cx: sx(p.x), cy: sy(p.y), r: 4.5, fill: colour, tabindex: 0, 'aria-label': text.replace(/\n/g, '; '),
        on: {mouseenter: (e) => showTip(text, e.clientX, e.clientY), mouseleave: hideTip, blur: hideTip,
          focus: (e) => { const b = e.target.getBoundingClientRect(); showTip(text, b.right, b.bottom); }}});
      chart.append(dot);
    }
  }
  return chart;
}

function showTip(text, x, y) {
  if (!tip) { tip = el('div', {class: 'tip', role: 'tooltip', id: 'tip'}); document.body.append(tip); }
  tip.textContent = text;
  tip.style.left = (x + 12) + 'px';
  tip.style.top = (y + 12) + 'px';
  tip.hidden = false;
}

function hideTip() { if (tip) tip.hidden = true; }

// ---------- compare ----------

async function comparePage(main, a, b) {
  const path = (id) => encodeURIComponent(id);
  return compareView(main, {
    load: (query) => api(`/v1/jobs/${path(a)}/compare/${path(b)}?${query}`),
    problems: (pid) => Promise.all([a, b].map((id) => api(`/v1/jobs/${path(id)}/problems/${encodeURIComponent(pid)}`))),
  });
}

// The comparison a static report folder carries whole (`reasoner report A --compare B --html`), served in the
// API's shape: the same pages of rows, and each shared problem's two views for the side-by-side.
function staticComparison(report) {
  return {
    load: async (query) => {
      const only = query.get('only'), offset = Number(query.get('offset')), limit = Number(query.get('limit'));
      const rows = report.rows.filter((r) => only === 'all' || r.a.correct !== r.b.correct);
      return {a: report.a, b: report.b, by_level: report.by_level, total: rows.length, offset, data: rows.slice(offset, offset + limit)};
    },
    problems: async (pid) => report.problems[pid],
  };
}

async function compareView(main, source) {
  const only = el('select', {'aria-label': 'which problems'}, el('option', {value: 'differ', text: 'where they differ'}), el('option', {value: 'all', text: 'every shared problem'}));
  const prev = el('button', {type: 'button', text: '← previous'}), next = el('button', {type: 'button', text: 'next →'});
  const where = el('span', {class: 'muted', role: 'status'});
  const head = el('div'), body = el('tbody'), side = el('div', {id: 'side'});
  put(main, el('h1', {text: 'Compare two jobs'}), head, el('h2', {text: 'Problems'}),
    el('div', {class: 'row'}, only, prev, next, where), el('table', {id: 'compare'}, el('thead', {}, el('tr', {},
      ['Problem', 'Level', 'Reference', 'A', 'A answer', 'B', 'B answer', ''].map((h) => el('th', {text: h})))), body), side);
  let offset = 0;
  async function load() {
    const query = new URLSearchParams({only: only.value, offset: String(offset), limit: String(PAGE)});
    const c = await source.load(query);
    const desc = (j) => `${j.id}: ${j.config.strategy} ${JSON.stringify(j.config.strategy_options || {})} (${j.status})`;
    put(head, el('p', {text: 'A = ' + desc(c.a)}), el('p', {text: 'B = ' + desc(c.b)}),
      el('table', {id: 'comparelevels'}, el('thead', {}, el('tr', {}, ['Level', 'Shared problems', 'Both right', 'Only A right', 'Only B right']
        .map((h) => el('th', {text: h})))), el('tbody', {}, c.by_level.map((l) => el('tr', {}, el('td', {text: l.level === null ? '–' : l.level}),
        el('td', {class: 'num', text: l.problems}), el('td', {class: 'num', text: l.both}), el('td', {class: 'num', text: l.only_a}),
        el('td', {class: 'num', text: l.only_b}))))));
    where.textContent = c.total ? `${offset + 1}–${offset + c.data.length} of ${c.total}` : 'no problems';
    prev.disabled = offset === 0;
    next.disabled = offset + c.data.length >= c.total;
    put(body, ...c.data.map((r) => {
      const open = el('button', {type: 'button', text: 'side by side'});
      open.addEventListener('click', () => sideBySide(side, source, r.problem_id));
      return el('tr', {}, el('td', {text: r.problem_id}), el('td', {text: r.level === null ? '–' : r.level}), el('td', {text: r.reference === null ? '–' : r.reference}),
        el('td', {}, verdictBadge(r.a.correct ? 'correct' : 'wrong', r.a.correct)), el('td', {text: r.a.answer === null ? '–' : r.a.answer}),
        el('td', {}, verdictBadge(r.b.correct ? 'correct' : 'wrong', r.b.correct)), el('td', {text: r.b.answer === null ? '–' : r.b.answer}), el('td', {}, open));
    }));
  }
  only.addEventListener('change', () => { offset = 0; load(); });
  prev.addEventListener('click', () => { offset = Math.max(0, offset - PAGE); load(); });
  next.addEventListener('click', () => { offset += PAGE; load(); });
  await load();
}

async function sideBySide(side, source, pid) {
  const [pa, pb] = await source.problems(pid);
  put(side, el('h2', {text: 'Problem ' + pid}), el('pre', {text: pa.prompt || ''}),
    el('div', {class: 'side'}, ...[['A', pa], ['B', pb]].map(([name, p]) => el('div', {}, el('h2', {}, `${name}: `, verdictBadge(p.status, p.correct),
      ` answer ${p.answer === null ? '–' : p.answer}`), candidateCards(p.candidates, p.chosen)))));
  side.scrollIntoView();
}

// ---------- playground ----------

async function playground(main) {
  const [models, strategies] = await Promise.all([api('/v1/models'), api('/v1/strategies')]);
  const names = ['none', ...Object.keys(strategies.strategies)];
  const question = el('textarea', {id: 'question', 'aria-label': 'question', text: 'What is 3 + 4? Put the answer in \\boxed{}.'});
  const model = el('select', {id: 'model'}, models.data.map((m) => el('option', {value: m.id, text: shortName(m.id)})));
  const strategy = el('select', {id: 'strategy'}, names.map((n) => el('option', {value: n, text: n, selected: n === 'self_consistency'})));
  const options = el('div', {class: 'grid-options row'});
  const samples = el('input', {type: 'number', id: 'samples', min: 1, placeholder: 'server cap'});
  const maxTokens = el('input', {type: 'number', id: 'max_tokens', min: 1, value: 64});
  const run = el('button', {type: 'submit', id: 'run', text: 'Run'});
  const stop = el('button', {type: 'button', text: 'Stop', disabled: true});
  const out = el('div', {id: 'output'});
  const fields = {};
  function showOptions() {
    put(options);
    Object.keys(fields).forEach((k) => delete fields[k]);
    const spec = strategies.strategies[strategy.value] || {};
    maxTokens.disabled = strategy.value !== 'none' && !('max_tokens' in spec);  // search strategies cap steps
    for (const name of ['n', 'width', 'prm', 'value', 'scorer', 'weighted', 'max_steps', 'step_tokens', 'temperature']) {
      if (!(name in spec)) continue;
      const f = spec[name];
      let input;
      if (name === 'prm') input = el('select', {}, el('option', {value: '', text: '(none)'}), strategies.prms.map((p) => el('option', {value: p, text: p})));
      else if (f.type === 'bool') input = el('input', {type: 'checkbox', checked: !!f.default});
      else input = el('input', {type: f.type === 'int' || f.type === 'float' ? 'number' : 'text', step: f.type === 'float' ? 'any' : null,
        value: name === 'n' ? 4 : name === 'value' && f.default === 'prm' ? 'logprob' : f.default === null ? '' : f.default});
      input.dataset.option = name;
      fields[name] = [input, f.type];
      options.append(el('label', {}, name, ' ', input));
    }
  }
  strategy.addEventListener('change', showOptions);
  showOptions();
  const form = el('form', {class: 'grid', id: 'playform'}, el('label', {class: 'wide'}, 'Question', question),
    el('label', {}, 'Model', model), el('label', {}, 'Strategy', strategy), el('label', {}, 'Budget: samples', samples),
    el('label', {}, 'max_tokens', maxTokens), el('div', {class: 'wide'}, options), el('div', {class: 'row'}, run, stop));
  put(main, el('h1', {text: 'Playground'}), form, out);
  let controller = null;
  stop.addEventListener('click', () => controller && controller.abort());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const reasoner = {detail: true};
    if (strategy.value !== 'none') reasoner.strategy = strategy.value;
    for (const [name, [input, type]] of Object.entries(fields)) {
      if (type === 'bool') reasoner[name] = input.checked;
      else if (input.value !== '') reasoner[name] = type === 'int' ? parseInt(input.value, 10) : type === 'float' ? Number(input.value) : input.value;
    }
    if (samples.value) reasoner.budget = {samples: Number(samples.value)};
    const body = {model: model.value, messages: [{role: 'user', content: question.value}], stream: true,
      stream_options: {include_usage: true}, reasoner};
    const takesCap = strategy.value === 'none' || 'max_tokens' in (strategies.strategies[strategy.value] || {});
    if (takesCap && maxTokens.value) body.max_tokens = Number(maxTokens.value);  // search strategies cap steps instead
    controller = new AbortController();
    run.disabled = true; stop.disabled = false;
    try { await streamRun(body, out, controller.signal); } catch (e) { if (e.name !== 'AbortError') out.append(el('p', {class: 'error', role: 'alert', text: e.message})); }
    run.disabled = false; stop.disabled = true;
  });
}

async function streamRun(body, out, signal) {
  const started = performance.now();
  const counters = el('p', {id: 'live', role: 'status', text: 'starting…'});
  const log = el('div', {class: 'log', id: 'events'});
  const answer = el('div', {id: 'answer'});
  const treeBox = el('div', {id: 'treebox'});
  const live = new LiveTree(treeBox);
  put(out, el('h2', {text: 'Live'}), counters, log, treeBox, answer);
  const response = await fetch('/v1/chat/completions', {method: 'POST', headers: headers(true), body: JSON.stringify(body), signal});
  if (!response.ok) {
    const data = await response.json().catch(() => null);
    throw new ApiError(`${response.status}: ${data && data.error ? data.error.message + (data.error.param ? ' [' + data.error.param + ']' : '') : 'failed'}`);
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '', content = '', finals = [], usage = null;
  for (;;) {
    const {value, done} = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, {stream: true});
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const line = buffer.slice(0, cut).trim();
      buffer = buffer.slice(cut + 2);
      if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
      const chunk = JSON.parse(line.slice(6));
      if (chunk.error) throw new ApiError(chunk.error.message);
      if (chunk.usage) usage = chunk.usage;
      for (const choice of chunk.choices || []) {
        if (choice.delta && choice.delta.content) content += choice.delta.content;
        if (choice.finish_reason && chunk.reasoner) finals[choice.index] = chunk.reasoner;
      }
      if (chunk.reasoner && chunk.reasoner.done) {
        const d = chunk.reasoner.done;
        counters.textContent = `${((performance.now() - started) / 1000).toFixed(1)} s · ${d.model_calls} model calls · ` +
          `${d.candidates} candidates · ${d.generated_tokens} tokens · ${d.scored} scored · ${d.prm_calls} PRM calls · ${d.steps} search steps` +
          (d.nodes ? ` · ${d.nodes} tree nodes` : '');
        if (chunk.reasoner.event === 'nodes') live.add(chunk.reasoner.data.nodes || []);
        log.append(el('div', {class: 'event', text: `${chunk.reasoner.event} ${JSON.stringify(chunk.reasoner.data).slice(0, 200)}`}));
        log.scrollTop = log.scrollHeight;
      }
    }
  }
  const wall = (performance.now() - started) / 1000;
  counters.textContent += ` · done in ${wall.toFixed(2)} s`;
  const info = finals[0] || {};
  const c = info.cost || {};
  const detail = info.detail || {candidates: [], trace: []};
  put(answer, el('h2', {text: 'Answer'}),
    el('dl', {class: 'kv'}, el('dt', {text: 'chosen answer'}), el('dd', {id: 'chosen', class: 'answer', text: info.answer === null || info.answer === undefined ? '–' : info.answer}),
      el('dt', {text: 'strategy'}), el('dd', {text: `${info.strategy} (stopped: ${info.stop_reason})`}),
      el('dt', {text: 'cost'}), el('dd', {id: 'cost', text: `${fmt(c.prompt_tokens)} prompt tokens (${fmt(c.cached_prompt_tokens)} cached), ` +
        `${fmt(c.generated_tokens)} generated, ${fmt(c.prm_tokens || 0)} PRM tokens, ${fmt(c.flops)} FLOPs, ${fmt(c.model_calls)} model calls`}),
      el('dt', {text: 'wall time'}), el('dd', {text: `${wall.toFixed(2)} s in the browser, ${fmt(detail.wall_seconds)} s in the strategy`}),
      usage ? el('dt', {text: 'usage'}) : null, usage ? el('dd', {text: `${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion tokens`}) : null),
    el('h2', {text: 'Chosen text'}), el('pre', {class: 'text', text: content}),
    traceView(detail.trace, detail.candidates),
    el('h2', {text: `Candidates (${detail.candidates.length})`}), candidateCards(detail.candidates, detail.chosen));
  // the grown tree gives way to the finished one (pruning, visits, the chosen path), drawn as the Problem view draws it
  if (detail.tree) put(treeBox, el('h2', {text: 'Search tree'}), treeView(detail.tree));
}

// ---------- start ----------

// A static report folder (`reasoner report ... --html`) sets window.REPORT in its data.js: the same views,
// drawn from that data, with no server to call.
async function staticReport(main, report) {
  try {
    if (report.page === 'sweep') {
      put(main, el('h1', {text: 'Sweep'}), sweepView(report.summary));
    } else if (report.page === 'compare') {
      await compareView(main, staticComparison(report));
    } else throw new Error('this report page is of an unknown kind: ' + report.page);
  } catch (e) { showError(main, e); }
}

document.addEventListener('DOMContentLoaded', () => {
  if (window.REPORT) { staticReport(document.getElementById('main'), window.REPORT); return; }
  window.addEventListener('hashchange', route);
  keyForm();
  route();
});

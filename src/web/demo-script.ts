// The demo page's browser module: plain JavaScript with no libraries, served as /demo/demo.js.
// It is a String.raw template so its own escapes reach the browser unchanged; it therefore uses no
// backticks and no dollar-brace sequences. The integration test parses it and drives it in Chromium.

export const DEMO_SCRIPT = String.raw`// kling-gateway demo client: GraphQL over fetch, task progress over server-sent events.
const ENDPOINT = '/graphql';
const KEY_STORAGE = 'kling-gateway.demo.apiKey';
const TASK_STORAGE = 'kling-gateway.demo.taskId';
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELED', 'TIMED_OUT']);
const STEP_ORDER = ['QUEUED', 'SUBMITTED', 'PROCESSING', 'SUCCEEDED'];
/** GenerateVideoInput fields that have a place on the form; issues for others go to the form's alert. */
const FIELDS = ['prompt', 'negativePrompt', 'model', 'durationSeconds', 'mode', 'aspectRatio', 'generateAudio', 'cfgScale', 'cameraControl'];
/** The price does not depend on the prompt, so an estimate for a blank prompt uses this one. */
const ESTIMATE_PROMPT = 'price estimate';

const MODEL_FIELDS = 'model modes durationsSeconds audioModes cameraControl cameraControlModes cameraControlDurationsSeconds cfgScale note';
const TASK_FIELDS = 'id status model mode durationSeconds aspectRatio generateAudio credits creditsCharged queuePosition createdAt completedAt ' +
  'failure { code message retryable } videos { id url durationSeconds }';
const QUERIES = {
  models: 'query DemoModels { models { ' + MODEL_FIELDS + ' } }',
  me: 'query DemoAccount { me { name creditBalance creditsHeld creditsUsed } }',
  estimate: 'query DemoEstimate($input: GenerateVideoInput!) { estimateVideoCost(input: $input) { __typename ' +
    '... on CostEstimate { credits } ... on ValidationError { message issues { path message } } } }',
  generate: 'mutation DemoGenerate($input: GenerateVideoInput!) { generateVideo(input: $input) { __typename ' +
    '... on GenerateVideoSuccess { task { ' + TASK_FIELDS + ' } } ... on Error { code message } ' +
    '... on ValidationError { issues { path message } } ... on InsufficientCreditsError { required available } ' +
    '... on RateLimitedError { retryAfterSeconds } ... on UpstreamError { retryable } } }',
  cancel: 'mutation DemoCancel($id: ID!) { cancelVideoTask(id: $id) { __typename ' +
    '... on CancelVideoTaskSuccess { task { ' + TASK_FIELDS + ' } } ... on Error { code message } } }',
  watch: 'subscription DemoTask($id: ID!) { taskUpdated(id: $id) { ' + TASK_FIELDS + ' } }',
};

const MODE_LABELS = { STANDARD: 'Standard', PROFESSIONAL: 'Professional' };
const RATIO_LABELS = { RATIO_16_9: '16:9', RATIO_9_16: '9:16', RATIO_1_1: '1:1' };
const STATUS_LABELS = {
  QUEUED: 'Queued', SUBMITTED: 'Sent to Kling', PROCESSING: 'Rendering', SUCCEEDED: 'Ready',
  FAILED: 'Failed', CANCELED: 'Canceled', TIMED_OUT: 'Timed out',
};

class GatewayError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const $ = (id) => {
  const element = document.getElementById(id);
  if (!element) throw new Error('The page has no #' + id);
  return element;
};

const el = {
  form: $('generate'), prompt: $('prompt'), promptCount: $('prompt-count'), negativePrompt: $('negative-prompt'),
  model: $('model'), modelNote: $('model-note'), duration: $('duration'), modeOptions: $('mode-options'),
  audioField: $('audio-field'), audio: $('audio'), audioHint: $('audio-hint'),
  cfgField: $('cfg-field'), cfgScale: $('cfg-scale'),
  cameraField: $('camera-field'), cameraType: $('camera-type'), cameraSimple: $('camera-simple'),
  cameraAxis: $('camera-axis'), cameraValue: $('camera-value'), cameraHint: $('camera-hint'),
  estimate: $('estimate'), submit: $('submit'), alert: $('form-alert'),
  keyForm: $('key-form'), keyEntry: $('key-entry'), keyInput: $('api-key'), keyCurrent: $('key-current'),
  keyStatus: $('key-status'), keyPrefix: $('key-prefix'), accountName: $('account-name'), forgetKey: $('forget-key'),
  stats: $('account-stats'), balance: $('credit-balance'), held: $('credit-held'), used: $('credit-used'),
  pill: $('credits-pill'), pillValue: $('credits-pill-value'),
  taskEmpty: $('task-empty'), task: $('task'), taskStatus: $('task-status'), taskId: $('task-id'),
  steps: $('task-steps'), taskMessage: $('task-message'), taskModel: $('task-model'), taskPrice: $('task-price'),
  elapsed: $('task-elapsed'), result: $('result'), video: $('video'), videoLink: $('video-link'), cancel: $('cancel-task'),
};

const state = {
  models: new Map(),
  account: null,
  estimate: null,
  estimateSeq: 0,
  estimateTimer: 0,
  task: null,
  reachedStep: 0,
  watch: null,
  ticker: 0,
};

// sessionStorage keeps the key for this tab only; where storage is off, the page still works until reload.
const memory = new Map();
const session = {
  get(name) {
    try { return sessionStorage.getItem(name); } catch { return memory.get(name) ?? null; }
  },
  set(name, value) {
    if (value === null) memory.delete(name); else memory.set(name, value);
    try {
      if (value === null) sessionStorage.removeItem(name); else sessionStorage.setItem(name, value);
    } catch { /* storage disabled: the in-memory copy serves */ }
  },
};
const storedKey = () => session.get(KEY_STORAGE);

function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) element.setAttribute(name, String(value));
  element.append(...children);
  return element;
}

const numberFormat = new Intl.NumberFormat('en-US');
const n = (value) => numberFormat.format(value);
const list = (values) =>
  values.length <= 1 ? (values[0] ?? '') : values.slice(0, -1).join(', ') + ' or ' + values[values.length - 1];
const modeLabel = (mode) => MODE_LABELS[mode] ?? mode;
const sentence = (text) => (/[.!?]$/.test(text) ? text : text + '.');

function modelLabel(model) {
  const words = model.replace(/^KLING_/, '').replace(/(\d)_(\d)/g, '$1.$2').split('_');
  return 'Kling ' + words.map((w) => (/^V\d/.test(w) ? w.toLowerCase() : w.charAt(0) + w.slice(1).toLowerCase())).join(' ');
}

function requestHeaders(accept, { anonymous = false } = {}) {
  const headers = {
    'content-type': 'application/json',
    accept,
    // yoga's CSRF prevention lets JSON POSTs through anyway; the header makes every request from this page pass.
    'x-graphql-yoga-csrf': 'kling-gateway-demo',
  };
  const key = anonymous ? null : storedKey();
  if (key) headers.authorization = 'Bearer ' + key;
  return headers;
}

function errorFrom(body, status) {
  const first = body && Array.isArray(body.errors) ? body.errors[0] : undefined;
  if (first) return new GatewayError(first.message, status, first.extensions ? first.extensions.code : undefined);
  return new GatewayError('The gateway answered HTTP ' + status + '.', status);
}

async function graphql(query, variables, options) {
  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: 'POST',
      headers: requestHeaders('application/graphql-response+json, application/json', options),
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new GatewayError('The gateway cannot be reached.', 0);
  }
  const body = await response.json().catch(() => null);
  if (!body || !body.data || (Array.isArray(body.errors) && body.errors.length > 0)) throw errorFrom(body, response.status);
  return body.data;
}

const isAuthError = (error) => error instanceof GatewayError && (error.code === 'UNAUTHENTICATED' || error.status === 401);

// ---- Server-sent events: yoga streams "event: next" messages and a final "event: complete".

async function* sseMessages(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
      let end = buffer.indexOf('\n\n');
      while (end !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
        let event = 'message';
        const data = [];
        for (const line of block.split('\n')) {
          if (line === '' || line.startsWith(':')) continue; // keep-alive comments
          const colon = line.indexOf(':');
          const field = colon === -1 ? line : line.slice(0, colon);
          const text = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = text;
          else if (field === 'data') data.push(text);
        }
        if (data.length > 0 || event !== 'message') yield { event, data: data.join('\n') };
      }
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

/**
 * Follows taskUpdated until a terminal state. The subscription sends the current state first, so a
 * dropped stream is simply opened again; a refusal (bad key, unknown task) is not retried.
 */
async function watchTask(id, signal, onTask) {
  let failures = 0;
  while (!signal.aborted) {
    let finished = false;
    try {
      const response = await fetch(ENDPOINT, {
        method: 'POST',
        headers: requestHeaders('text/event-stream'),
        body: JSON.stringify({ query: QUERIES.watch, variables: { id } }),
        signal,
      });
      if (!(response.headers.get('content-type') ?? '').startsWith('text/event-stream') || !response.body) {
        throw errorFrom(await response.json().catch(() => null), response.status);
      }
      for await (const message of sseMessages(response.body)) {
        if (message.event === 'complete') break;
        if (message.event !== 'next') continue;
        const payload = JSON.parse(message.data);
        if (Array.isArray(payload.errors) && payload.errors.length > 0) throw errorFrom(payload, 400);
        const task = payload.data ? payload.data.taskUpdated : null;
        if (!task) continue;
        failures = 0;
        onTask(task);
        if (TERMINAL.has(task.status)) finished = true;
      }
    } catch (error) {
      if (signal.aborted) return;
      const refused = error instanceof GatewayError && error.status >= 400 && error.status < 500 && error.status !== 429;
      if (refused) throw error;
    }
    if (finished || signal.aborted) return;
    failures += 1;
    if (failures > 6) throw new Error('the connection to the gateway keeps dropping.');
    await sleep(Math.min(10_000, 250 * 2 ** failures), signal);
  }
}

// ---- The form: controls follow the chosen model's capabilities.

const currentCaps = () => state.models.get(el.model.value);
const checkedValue = (name) => {
  const input = el.form.querySelector('input[name="' + name + '"]:checked');
  return input ? input.value : undefined;
};

function renderModes(caps) {
  const current = checkedValue('mode');
  const selected = caps.modes.includes(current) ? current : caps.modes[0];
  el.modeOptions.replaceChildren(...caps.modes.flatMap((mode) => {
    const input = h('input', { type: 'radio', name: 'mode', id: 'mode-' + mode, value: mode });
    input.checked = mode === selected;
    return [input, h('label', { for: 'mode-' + mode }, modeLabel(mode))];
  }));
}

function renderDurations(caps) {
  const current = Number(el.duration.value);
  const seconds = caps.durationsSeconds;
  const selected = seconds.includes(current) ? current : seconds.includes(5) ? 5 : seconds[0];
  el.duration.replaceChildren(...seconds.map((s) => {
    const option = h('option', { value: s }, s + ' seconds');
    option.selected = s === selected;
    return option;
  }));
}

/** Audio, cfgScale and camera control depend on the model, and audio and camera also on mode and duration. */
function renderOptions() {
  const caps = currentCaps();
  if (!caps) return;
  const mode = checkedValue('mode');
  const duration = Number(el.duration.value);
  el.modelNote.textContent = caps.note ? sentence(caps.note.charAt(0).toUpperCase() + caps.note.slice(1)) : '';

  el.audioField.hidden = caps.audioModes.length === 0;
  const audioHere = caps.audioModes.includes(mode);
  el.audio.disabled = !audioHere;
  if (!audioHere) el.audio.checked = false;
  el.audioHint.textContent = audioHere
    ? 'Adds a soundtrack; it costs more.'
    : 'Available in ' + list(caps.audioModes.map(modeLabel)) + ' mode only.';

  el.cfgField.hidden = !caps.cfgScale;
  if (!caps.cfgScale) el.cfgScale.value = '';

  el.cameraField.hidden = !caps.cameraControl;
  const cameraHere = caps.cameraControl && caps.cameraControlModes.includes(mode) &&
    caps.cameraControlDurationsSeconds.includes(duration);
  el.cameraType.disabled = !cameraHere;
  // A disabled control is not sent; showing "None" says so.
  if (!cameraHere) el.cameraType.value = '';
  const where = list(caps.cameraControlModes.map(modeLabel)) + ' mode at ' +
    list(caps.cameraControlDurationsSeconds.map((s) => s + ' s'));
  el.cameraHint.textContent = cameraHere
    ? 'This model takes camera control in ' + where + '.'
    : 'This model takes camera control only in ' + where + '; change the mode or duration to use it.';
  el.cameraSimple.hidden = !cameraHere || el.cameraType.value !== 'SIMPLE';
}

function onModelChange() {
  const caps = currentCaps();
  if (!caps) return;
  renderModes(caps);
  renderDurations(caps);
  renderOptions();
}

function readInput() {
  const input = {
    prompt: el.prompt.value,
    model: el.model.value,
    mode: checkedValue('mode'),
    durationSeconds: Number(el.duration.value),
    aspectRatio: checkedValue('aspectRatio'),
  };
  if (el.negativePrompt.value.trim() !== '') input.negativePrompt = el.negativePrompt.value;
  if (!el.audioField.hidden && !el.audio.disabled && el.audio.checked) input.generateAudio = true;
  if (!el.cfgField.hidden && el.cfgScale.value.trim() !== '') input.cfgScale = Number(el.cfgScale.value);
  if (!el.cameraField.hidden && !el.cameraType.disabled && el.cameraType.value !== '') {
    input.cameraControl = { type: el.cameraType.value };
    if (el.cameraType.value === 'SIMPLE') input.cameraControl.config = { [el.cameraAxis.value]: Number(el.cameraValue.value) };
  }
  return input;
}

// ---- Field errors: FieldIssue.path[0] names the input field, and each field has a slot for its message.

function setFieldError(field, message) {
  const box = el.form.querySelector('[data-field="' + field + '"]');
  const slot = document.getElementById('error-' + field);
  if (!box || !slot) return;
  slot.textContent = message;
  slot.hidden = !message;
  box.classList.toggle('invalid', Boolean(message));
  for (const control of box.querySelectorAll('input, select, textarea')) {
    if (message) control.setAttribute('aria-invalid', 'true');
    else control.removeAttribute('aria-invalid');
  }
}

/**
 * Shows the issues on the given fields and clears those fields' old messages. Returns the messages
 * that have no visible field, for the form's alert.
 */
function applyIssues(issues, fields) {
  const messages = new Map();
  const elsewhere = [];
  for (const issue of issues) {
    const field = issue.path[0];
    const box = el.form.querySelector('[data-field="' + field + '"]');
    if (!FIELDS.includes(field) || !box || box.closest('[hidden]')) elsewhere.push(issue.message);
    else if (fields.includes(field)) messages.set(field, (messages.has(field) ? messages.get(field) + ' ' : '') + issue.message);
  }
  for (const field of fields) setFieldError(field, messages.get(field) ?? '');
  return elsewhere;
}

function focusFirstInvalid() {
  const box = el.form.querySelector('.invalid');
  const control = box && box.querySelector('textarea, select:not(:disabled), input:not(:disabled)');
  if (control) control.focus();
}

function showAlert(title, text) {
  el.alert.replaceChildren(h('strong', {}, title), h('p', {}, text));
  el.alert.hidden = false;
}

function hideAlert() {
  el.alert.hidden = true;
  el.alert.replaceChildren();
}

// ---- Price estimate, refreshed as the form changes.

function renderEstimate() {
  el.estimate.classList.remove('over');
  if (!storedKey() || !state.account) {
    el.estimate.textContent = 'Paste an API key to see the price.';
    return;
  }
  const estimate = state.estimate;
  if (!estimate) {
    el.estimate.textContent = 'Working out the price…';
  } else if (estimate.kind === 'invalid') {
    el.estimate.textContent = 'Fix the marked fields to see the price.';
  } else if (estimate.kind === 'error') {
    el.estimate.textContent = 'No price: ' + estimate.message;
  } else {
    const available = state.account.creditBalance;
    const over = estimate.credits > available;
    el.estimate.replaceChildren(
      'Costs ', h('strong', {}, n(estimate.credits) + ' credits'),
      over ? ', more than the ' + n(available) + ' available' : ' of ' + n(available) + ' available',
    );
    el.estimate.classList.toggle('over', over);
  }
}

function scheduleEstimate() {
  clearTimeout(state.estimateTimer);
  state.estimateTimer = setTimeout(() => void estimate(), 200);
}

async function estimate() {
  if (!storedKey() || !state.account || !currentCaps()) return renderEstimate();
  const seq = ++state.estimateSeq;
  const input = readInput();
  const blankPrompt = input.prompt.trim() === '';
  if (blankPrompt) input.prompt = ESTIMATE_PROMPT;
  // With a stand-in prompt the estimate says nothing about the real one, so its message stays.
  const fields = blankPrompt ? FIELDS.filter((field) => field !== 'prompt') : FIELDS;
  try {
    const result = (await graphql(QUERIES.estimate, { input })).estimateVideoCost;
    if (seq !== state.estimateSeq) return;
    if (result.__typename === 'CostEstimate') {
      applyIssues([], fields);
      state.estimate = { kind: 'price', credits: result.credits };
    } else {
      applyIssues(result.issues, fields);
      state.estimate = { kind: 'invalid' };
    }
  } catch (error) {
    if (seq !== state.estimateSeq) return;
    state.estimate = { kind: 'error', message: error.message };
  }
  renderEstimate();
}

// ---- Submitting.

async function submit() {
  hideAlert();
  if (!storedKey() || !state.account) {
    showAlert('An API key is needed', 'Paste your key in the API key box, then submit again.');
    el.keyInput.focus();
    return;
  }
  if (!currentCaps()) return;
  el.submit.disabled = true;
  el.submit.textContent = 'Submitting…';
  try {
    const result = (await graphql(QUERIES.generate, { input: readInput() })).generateVideo;
    onGenerateResult(result);
  } catch (error) {
    onRequestError(error);
  } finally {
    el.submit.disabled = false;
    el.submit.textContent = 'Generate video';
  }
}

function onGenerateResult(result) {
  switch (result.__typename) {
    case 'GenerateVideoSuccess':
      applyIssues([], FIELDS);
      followTask(result.task.id, result.task);
      void refreshAccount();
      return;
    case 'ValidationError': {
      state.estimateSeq += 1; // an estimate still in flight must not wipe these messages
      const elsewhere = applyIssues(result.issues, FIELDS);
      if (elsewhere.length > 0) showAlert('Check the input', elsewhere.join(' '));
      focusFirstInvalid();
      return;
    }
    case 'InsufficientCreditsError':
      showAlert('Not enough credits',
        'This video costs ' + n(result.required) + ' credits, but the key has only ' + n(result.available) +
        ' available. Choose a shorter duration, the Standard mode or another model, or ask an operator for more credits.');
      void refreshAccount();
      return;
    case 'RateLimitedError':
      showAlert('Too many requests', sentence(result.message) + ' Try again in ' + result.retryAfterSeconds + ' s.');
      return;
    case 'UpstreamError':
      showAlert(result.retryable ? 'Kling is not answering right now' : 'Kling refused the task',
        sentence(result.message) + (result.retryable ? ' Nothing was charged; try again in a moment.' : ' Nothing was charged.'));
      return;
    default:
      showAlert('The task was not created', sentence(result.message ?? 'The gateway gave an unexpected answer'));
  }
}

function onRequestError(error) {
  if (isAuthError(error)) {
    forgetKey('The gateway no longer accepts this key. Paste a valid one.');
    showAlert('The API key was not accepted', 'Paste a valid key in the API key box, then submit again.');
    return;
  }
  showAlert('The request failed', sentence(error.message));
}

// ---- The API key and the account's credits.

function setKeyStatus(text, isError = false) {
  el.keyStatus.textContent = text;
  el.keyStatus.classList.toggle('error', isError);
}

function renderAccount() {
  const account = state.account;
  el.keyEntry.hidden = Boolean(account);
  el.keyCurrent.hidden = !account;
  el.stats.hidden = !account;
  el.pill.hidden = !account;
  if (account) {
    el.accountName.textContent = account.name;
    el.keyPrefix.textContent = (storedKey() ?? '').slice(0, 8) + '…';
    el.balance.textContent = n(account.creditBalance);
    el.held.textContent = n(account.creditsHeld);
    el.used.textContent = n(account.creditsUsed);
    el.pillValue.textContent = n(account.creditBalance);
  }
  renderEstimate();
}

async function refreshAccount() {
  if (!storedKey()) {
    state.account = null;
    return renderAccount();
  }
  try {
    const hadAccount = Boolean(state.account);
    state.account = (await graphql(QUERIES.me)).me;
    renderAccount();
    if (!hadAccount) scheduleEstimate();
    return true;
  } catch (error) {
    if (isAuthError(error)) forgetKey('The gateway did not accept that key. Check it and paste it again.');
    else setKeyStatus('Could not read the account: ' + sentence(error.message), true);
    return false;
  }
}

async function useKey() {
  const key = el.keyInput.value.trim();
  if (!key) {
    setKeyStatus('Paste a key first.', true);
    el.keyInput.focus();
    return;
  }
  session.set(KEY_STORAGE, key);
  el.keyInput.value = '';
  setKeyStatus('Checking the key…');
  if (await refreshAccount()) {
    setKeyStatus('Key accepted.');
    el.prompt.focus();
  } else {
    el.keyInput.focus();
  }
}

function forgetKey(message, isError = true) {
  session.set(KEY_STORAGE, null);
  session.set(TASK_STORAGE, null);
  if (state.watch) state.watch.abort();
  state.account = null;
  state.estimate = null;
  renderAccount();
  setKeyStatus(message, isError);
}

// ---- Progress of the current task.

function chargeText(task) {
  return task.creditsCharged > 0
    ? n(task.creditsCharged) + ' credits were charged.'
    : 'Nothing was charged: the ' + n(task.credits) + ' credits held for it went back to the key.';
}

function describeTask(task) {
  switch (task.status) {
    case 'QUEUED':
      return task.queuePosition ? 'Waiting in this key\'s queue, position ' + task.queuePosition + '.' : 'Waiting in this key\'s queue.';
    case 'SUBMITTED': return 'Kling accepted the task and will start it shortly.';
    case 'PROCESSING': return 'Kling is rendering the video…';
    case 'SUCCEEDED': return 'Your video is ready. ' + chargeText(task);
    case 'FAILED': return 'The task failed' + (task.failure ? ': ' + sentence(task.failure.message) : '.') + ' ' + chargeText(task);
    case 'CANCELED': return 'The task was canceled. ' + chargeText(task);
    case 'TIMED_OUT': return 'Kling did not finish in time. ' + chargeText(task);
    default: return task.status;
  }
}

function setTaskMessage(text, isError) {
  el.taskMessage.textContent = text;
  el.taskMessage.classList.toggle('error', isError);
}

function formatElapsed(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (seconds < 1) return 'under 1 s';
  return s < 60 ? s + ' s' : Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
}

function renderElapsed() {
  const task = state.task;
  if (!task || !task.createdAt) return;
  const end = task.completedAt ? Date.parse(task.completedAt) : Date.now();
  el.elapsed.textContent = formatElapsed((end - Date.parse(task.createdAt)) / 1000);
}

function renderTask(task) {
  const terminal = TERMINAL.has(task.status);
  el.taskId.textContent = task.id;
  el.taskStatus.textContent = STATUS_LABELS[task.status] ?? task.status;
  el.taskStatus.dataset.status = task.status;

  const step = STEP_ORDER.indexOf(task.status);
  if (step > state.reachedStep) state.reachedStep = step;
  for (const item of el.steps.children) {
    const index = STEP_ORDER.indexOf(item.dataset.step);
    let itemState = 'upcoming';
    if (task.status === 'SUCCEEDED' || index < state.reachedStep) itemState = 'done';
    else if (index === state.reachedStep) itemState = terminal ? 'failed' : 'current';
    item.dataset.state = itemState;
    if (itemState === 'current') item.setAttribute('aria-current', 'step'); else item.removeAttribute('aria-current');
  }

  setTaskMessage(describeTask(task), terminal && task.status !== 'SUCCEEDED');
  el.taskModel.textContent = [
    modelLabel(task.model), modeLabel(task.mode), task.durationSeconds + ' s', RATIO_LABELS[task.aspectRatio] ?? task.aspectRatio,
    ...(task.generateAudio ? ['with audio'] : []),
  ].join(' · ');
  el.taskPrice.textContent = n(task.credits) + ' credits' + (terminal ? ', ' + n(task.creditsCharged) + ' charged' : ', held');
  renderElapsed();
  el.cancel.hidden = terminal;

  const video = task.status === 'SUCCEEDED' ? task.videos[0] : undefined;
  if (video) {
    if (el.video.getAttribute('src') !== video.url) el.video.src = video.url;
    el.video.className = task.aspectRatio === 'RATIO_9_16' ? 'portrait' : task.aspectRatio === 'RATIO_1_1' ? 'square' : '';
    el.videoLink.href = video.url;
    el.result.hidden = false;
  } else {
    el.result.hidden = true;
    if (el.video.hasAttribute('src')) {
      el.video.removeAttribute('src');
      el.video.load();
    }
  }
}

function stopTicker() {
  clearInterval(state.ticker);
  state.ticker = 0;
}

/** Shows a task and follows it live; replaces whatever task was shown before. */
function followTask(id, initial) {
  if (state.watch) state.watch.abort();
  stopTicker();
  const controller = new AbortController();
  state.watch = controller;
  state.task = initial ?? null;
  state.reachedStep = 0;
  session.set(TASK_STORAGE, id);
  el.taskEmpty.hidden = true;
  el.task.hidden = false;
  if (initial) renderTask(initial);
  else setTaskMessage('Connecting…', false);
  state.ticker = setInterval(renderElapsed, 1000);

  const onTask = (task) => {
    if (state.watch !== controller) return;
    state.task = task;
    renderTask(task);
    if (TERMINAL.has(task.status)) {
      stopTicker();
      void refreshAccount();
    }
  };
  watchTask(id, controller.signal, onTask).catch((error) => {
    if (state.watch !== controller) return;
    stopTicker();
    setTaskMessage('Lost track of the task: ' + sentence(error.message), true);
  });
}

async function cancelTask() {
  const task = state.task;
  if (!task) return;
  el.cancel.disabled = true;
  try {
    const result = (await graphql(QUERIES.cancel, { id: task.id })).cancelVideoTask;
    if (result.__typename === 'CancelVideoTaskSuccess') renderTask(result.task);
    else setTaskMessage(sentence(result.message), true);
  } catch (error) {
    setTaskMessage('Could not cancel: ' + sentence(error.message), true);
  } finally {
    el.cancel.disabled = false;
  }
}

// ---- Start-up.

async function loadModels() {
  try {
    // models needs no key; sending none keeps a stale stored key from hiding the form.
    const { models } = await graphql(QUERIES.models, undefined, { anonymous: true });
    state.models = new Map(models.map((caps) => [caps.model, caps]));
    el.model.replaceChildren(...models.map((caps) => h('option', { value: caps.model }, modelLabel(caps.model))));
    el.model.value = state.models.has('KLING_V2_MASTER') ? 'KLING_V2_MASTER' : models[0].model;
    el.model.disabled = false;
    onModelChange();
    scheduleEstimate();
  } catch (error) {
    setFieldError('model', 'Could not load the models: ' + sentence(error.message));
  }
}

function updatePromptCount() {
  el.promptCount.textContent = n(Array.from(el.prompt.value.trim()).length);
}

el.form.addEventListener('submit', (event) => {
  event.preventDefault();
  void submit();
});
el.form.addEventListener('input', (event) => {
  const target = event.target;
  if (target === el.model) onModelChange();
  else if (target === el.duration || target.name === 'mode' || target === el.cameraType) renderOptions();
  if (target === el.prompt) updatePromptCount();
  // Typing clears that field's message; the next estimate or submit judges it again.
  const box = target.closest('[data-field]');
  if (box && box.dataset.field === 'prompt') setFieldError('prompt', '');
  // An alert about the last submit (credits, rate limit) no longer describes the changed form.
  hideAlert();
  scheduleEstimate();
});
el.keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void useKey();
});
el.forgetKey.addEventListener('click', () => {
  forgetKey('Key forgotten.', false);
  el.keyInput.focus();
});
el.cancel.addEventListener('click', () => void cancelTask());

renderAccount();
updatePromptCount();
void loadModels();
if (storedKey()) {
  void refreshAccount().then((ok) => {
    const taskId = session.get(TASK_STORAGE);
    if (ok && taskId) followTask(taskId);
  });
}
`;

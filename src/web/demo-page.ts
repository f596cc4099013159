// The demo page on `GET /`: plain HTML, one stylesheet and one browser module, kept as strings so
// there is no build step and nothing to find on disk at run time. server/http.ts serves DEMO_ASSETS.
import { createHash } from 'node:crypto';
import { DEMO_SCRIPT } from './demo-script.js';
import { DEMO_CSS } from './demo-styles.js';

export const DEMO_SCRIPT_PATH = '/demo/demo.js';
export const DEMO_STYLES_PATH = '/demo/demo.css';

/** A play symbol on the logo's gradient, as a data: URL so the page needs no icon route. */
const FAVICON =
  "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Cdefs%3E%3ClinearGradient id='g' x1='0' y1='0' x2='1' y2='1'%3E%3Cstop offset='0' stop-color='%236366f1'/%3E%3Cstop offset='1' stop-color='%23ec4899'/%3E%3C/linearGradient%3E%3C/defs%3E%3Crect width='32' height='32' rx='8' fill='url(%23g)'/%3E%3Cpath d='M12 9l11 7-11 7z' fill='white'/%3E%3C/svg%3E";

export const DEMO_HTML = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="color-scheme" content="light dark">
  <title>kling-gateway · text-to-video demo</title>
  <link rel="icon" href="${FAVICON}">
  <link rel="stylesheet" href="${DEMO_STYLES_PATH}">
  <script type="module" src="${DEMO_SCRIPT_PATH}"></script>
</head>
<body>
  <a class="skip-link" href="#prompt">Skip to the prompt</a>
  <header class="masthead">
    <div class="brand">
      <span class="logo" aria-hidden="true"></span>
      <div>
        <h1>kling-gateway</h1>
        <p>Text-to-video demo: a live client of the GraphQL API</p>
      </div>
    </div>
    <p class="pill" id="credits-pill" hidden><strong id="credits-pill-value">0</strong> credits available</p>
  </header>

  <main class="layout">
    <section class="card area-key" aria-labelledby="key-heading">
      <h2 id="key-heading">API key</h2>
      <form id="key-form" autocomplete="off" novalidate>
        <div id="key-entry">
          <label class="label" for="api-key">Paste your API key</label>
          <div class="row">
            <input type="password" id="api-key" autocomplete="off" spellcheck="false" autocapitalize="off" placeholder="kgw_…"
              aria-describedby="key-hint key-status">
            <button type="submit" class="primary">Use key</button>
          </div>
          <p class="hint" id="key-hint">Kept in this tab only (sessionStorage). Make one with
            <code>npm run keys -- create --name you --credits 100</code>.</p>
        </div>
        <div id="key-current" class="key-current" hidden>
          <p class="empty">Signed in as <strong id="account-name"></strong> with <code id="key-prefix"></code></p>
          <button type="button" class="secondary" id="forget-key">Forget key</button>
        </div>
        <p class="status-line" id="key-status" role="status"></p>
      </form>
      <dl class="stats" id="account-stats" hidden>
        <div><dt>Available</dt><dd id="credit-balance">0</dd></div>
        <div><dt>Held</dt><dd id="credit-held">0</dd></div>
        <div><dt>Used</dt><dd id="credit-used">0</dd></div>
      </dl>
    </section>

    <form id="generate" class="card area-form" novalidate aria-labelledby="generate-heading">
      <h2 id="generate-heading">Generate a video</h2>

      <div class="field" data-field="prompt">
        <label for="prompt">Prompt</label>
        <textarea id="prompt" rows="4" required aria-describedby="prompt-hint error-prompt"
          placeholder="A paper boat drifting down a rain-soaked street at dusk, neon reflections"></textarea>
        <p class="hint" id="prompt-hint"><span id="prompt-count">0</span> of 2,500 characters</p>
        <p class="field-error" id="error-prompt" hidden></p>
      </div>

      <div class="field" data-field="negativePrompt">
        <label for="negative-prompt">Negative prompt <span class="optional">optional</span></label>
        <textarea id="negative-prompt" rows="2" aria-describedby="negative-hint error-negativePrompt"
          placeholder="blurry, text, watermark"></textarea>
        <p class="hint" id="negative-hint">What to keep out of the video.</p>
        <p class="field-error" id="error-negativePrompt" hidden></p>
      </div>

      <div class="grid-2">
        <div class="field" data-field="model">
          <label for="model">Model</label>
          <select id="model" aria-describedby="model-note error-model" disabled>
            <option>Loading models…</option>
          </select>
          <p class="hint" id="model-note"></p>
          <p class="field-error" id="error-model" hidden></p>
        </div>

        <div class="field" data-field="durationSeconds">
          <label for="duration">Duration</label>
          <select id="duration" aria-describedby="error-durationSeconds"></select>
          <p class="field-error" id="error-durationSeconds" hidden></p>
        </div>

        <fieldset class="field" data-field="mode" aria-describedby="error-mode">
          <legend>Mode</legend>
          <div class="segmented" id="mode-options"></div>
          <p class="field-error" id="error-mode" hidden></p>
        </fieldset>

        <fieldset class="field" data-field="aspectRatio" aria-describedby="error-aspectRatio">
          <legend>Aspect ratio</legend>
          <div class="segmented" id="aspect-options">
            <input type="radio" name="aspectRatio" id="aspect-RATIO_16_9" value="RATIO_16_9" checked>
            <label for="aspect-RATIO_16_9"><span class="ratio ratio-RATIO_16_9" aria-hidden="true"></span>16:9</label>
            <input type="radio" name="aspectRatio" id="aspect-RATIO_9_16" value="RATIO_9_16">
            <label for="aspect-RATIO_9_16"><span class="ratio ratio-RATIO_9_16" aria-hidden="true"></span>9:16</label>
            <input type="radio" name="aspectRatio" id="aspect-RATIO_1_1" value="RATIO_1_1">
            <label for="aspect-RATIO_1_1"><span class="ratio ratio-RATIO_1_1" aria-hidden="true"></span>1:1</label>
          </div>
          <p class="field-error" id="error-aspectRatio" hidden></p>
        </fieldset>
      </div>

      <div class="field" data-field="generateAudio" id="audio-field" hidden>
        <label class="check"><input type="checkbox" id="audio" aria-describedby="audio-hint error-generateAudio"> Generate audio</label>
        <p class="hint" id="audio-hint"></p>
        <p class="field-error" id="error-generateAudio" hidden></p>
      </div>

      <div class="field" data-field="cfgScale" id="cfg-field" hidden>
        <label for="cfg-scale">Prompt adherence (cfgScale) <span class="optional">optional</span></label>
        <input type="number" id="cfg-scale" min="0" max="1" step="0.05" inputmode="decimal" placeholder="Model default"
          aria-describedby="cfg-hint error-cfgScale">
        <p class="hint" id="cfg-hint">0 to 1: higher follows the prompt more closely.</p>
        <p class="field-error" id="error-cfgScale" hidden></p>
      </div>

      <fieldset class="field subpanel" data-field="cameraControl" id="camera-field" hidden aria-describedby="camera-hint error-cameraControl">
        <legend>Camera control</legend>
        <div class="grid-2">
          <div class="field">
            <label for="camera-type">Movement</label>
            <select id="camera-type">
              <option value="">None</option>
              <option value="SIMPLE">Simple: one axis</option>
              <option value="DOWN_BACK">Down and back</option>
              <option value="FORWARD_UP">Forward and up</option>
              <option value="RIGHT_TURN_FORWARD">Turn right, move forward</option>
              <option value="LEFT_TURN_FORWARD">Turn left, move forward</option>
            </select>
          </div>
          <div class="field" id="camera-simple" hidden>
            <span class="label" id="camera-simple-label">Axis and amount</span>
            <div class="row" role="group" aria-labelledby="camera-simple-label">
              <label class="visually-hidden" for="camera-axis">Axis</label>
              <select id="camera-axis">
                <option value="horizontal">Horizontal</option>
                <option value="vertical">Vertical</option>
                <option value="pan">Pan</option>
                <option value="tilt">Tilt</option>
                <option value="roll">Roll</option>
                <option value="zoom">Zoom</option>
              </select>
              <label class="visually-hidden" for="camera-value">Amount, −10 to 10</label>
              <input type="number" id="camera-value" min="-10" max="10" step="0.5" value="5" inputmode="decimal">
            </div>
          </div>
        </div>
        <p class="hint" id="camera-hint"></p>
        <p class="field-error" id="error-cameraControl" hidden></p>
      </fieldset>

      <div class="submit-row">
        <p class="estimate" id="estimate" aria-live="polite">Paste an API key to see the price.</p>
        <button type="submit" class="primary" id="submit">Generate video</button>
      </div>
      <div class="alert" id="form-alert" role="alert" hidden></div>
    </form>

    <section class="card area-progress" aria-labelledby="progress-heading">
      <h2 id="progress-heading">Progress</h2>
      <p class="empty" id="task-empty">Submit the form and the task's progress shows up here, live.</p>
      <div id="task" hidden>
        <div class="task-head">
          <span class="badge" id="task-status">Queued</span>
          <code id="task-id"></code>
        </div>
        <ol class="steps" id="task-steps" aria-label="Steps">
          <li data-step="QUEUED">Queued</li>
          <li data-step="SUBMITTED">Sent to Kling</li>
          <li data-step="PROCESSING">Rendering</li>
          <li data-step="SUCCEEDED">Ready</li>
        </ol>
        <p class="task-message" id="task-message" role="status"></p>
        <dl class="facts">
          <dt>Model</dt><dd id="task-model"></dd>
          <dt>Price</dt><dd id="task-price"></dd>
          <dt>Elapsed</dt><dd id="task-elapsed">0 s</dd>
        </dl>
        <figure class="result" id="result" hidden>
          <video id="video" controls autoplay muted loop playsinline></video>
          <figcaption><a id="video-link" href="#" target="_blank" rel="noopener noreferrer">Open the video in a new tab</a></figcaption>
        </figure>
        <div class="actions">
          <button type="button" class="secondary" id="cancel-task" hidden>Cancel task</button>
        </div>
      </div>
    </section>
  </main>
  <footer class="footer">
    Talks to <code>/graphql</code> on this server: <code>models</code>, <code>me</code>, <code>estimateVideoCost</code>,
    <code>generateVideo</code>, and <code>taskUpdated</code> over server-sent events.
  </footer>
</body>
</html>
`;

export interface DemoAsset {
  contentType: string;
  body: Buffer;
  /** Strong validator, so `cache-control: no-cache` costs a 304 rather than a download. */
  etag: string;
}

function asset(contentType: string, text: string): DemoAsset {
  const body = Buffer.from(text, 'utf8');
  return { contentType, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

/** Path -> asset; `/` is the page itself. */
export const DEMO_ASSETS: ReadonlyMap<string, DemoAsset> = new Map([
  ['/', asset('text/html; charset=utf-8', DEMO_HTML)],
  [DEMO_STYLES_PATH, asset('text/css; charset=utf-8', DEMO_CSS)],
  [DEMO_SCRIPT_PATH, asset('text/javascript; charset=utf-8', DEMO_SCRIPT)],
]);

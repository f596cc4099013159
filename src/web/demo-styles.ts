// The demo page's stylesheet, served as its own file so the Content-Security-Policy needs no 'unsafe-inline'.
// Light and dark themes come from the same custom properties; the system font keeps the page download tiny.

export const DEMO_CSS = String.raw`
:root {
  color-scheme: light dark;
  --bg: #f4f5f8;
  --surface: #ffffff;
  --surface-2: #f7f8fa;
  --text: #16181d;
  --muted: #5b6170;
  --border: #dfe2e8;
  --accent: #4338ca;
  --accent-hover: #3730a3;
  --accent-soft: #eef0ff;
  --on-accent: #ffffff;
  --danger: #b42318;
  --danger-soft: #fef1f0;
  --warning: #8a5a00;
  --warning-soft: #fff7e6;
  --success: #067647;
  --success-soft: #ecfdf3;
  --focus: #2563eb;
  --shadow: 0 1px 2px rgb(16 24 40 / 6%), 0 4px 16px rgb(16 24 40 / 6%);
  --radius: 14px;
  --radius-small: 8px;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  font-size: 16px;
  line-height: 1.5;
}

@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1115;
    --surface: #171a21;
    --surface-2: #1e222b;
    --text: #e8eaf0;
    --muted: #a3a9b8;
    --border: #2c313c;
    --accent: #8b93ff;
    --accent-hover: #a5acff;
    --accent-soft: #23264a;
    --on-accent: #0f1115;
    --danger: #ff8a80;
    --danger-soft: #3a1a1a;
    --warning: #f5c451;
    --warning-soft: #342a12;
    --success: #6ee7a8;
    --success-soft: #12301f;
    --focus: #93b4ff;
    --shadow: none;
  }
}

*, *::before, *::after { box-sizing: border-box; }

body {
  margin: 0;
  background: var(--bg);
  color: var(--text);
}

[hidden] { display: none !important; }

a { color: var(--accent); }

code {
  font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 0.875em;
  background: var(--surface-2);
  border: 1px solid var(--border);
  border-radius: 5px;
  padding: 0.05em 0.35em;
}

:focus-visible {
  outline: 3px solid var(--focus);
  outline-offset: 2px;
}

.skip-link {
  position: absolute;
  left: 1rem;
  top: -3rem;
  background: var(--surface);
  padding: 0.5rem 0.75rem;
  border-radius: var(--radius-small);
  z-index: 10;
}
.skip-link:focus { top: 1rem; }

.visually-hidden {
  position: absolute;
  width: 1px;
  height: 1px;
  overflow: hidden;
  clip-path: inset(50%);
  white-space: nowrap;
}

.masthead {
  max-width: 1160px;
  margin: 0 auto;
  padding: 1.75rem 1.5rem 0.5rem;
  display: flex;
  align-items: center;
  justify-content: space-between;
  gap: 1rem;
  flex-wrap: wrap;
}

.brand { display: flex; align-items: center; gap: 0.85rem; }
.brand h1 { margin: 0; font-size: 1.35rem; letter-spacing: -0.01em; }
.brand p { margin: 0; color: var(--muted); font-size: 0.95rem; }

.logo {
  width: 2.5rem;
  height: 2.5rem;
  border-radius: 11px;
  background: linear-gradient(135deg, #6366f1, #a855f7 55%, #ec4899);
  position: relative;
  flex: none;
}
.logo::after {
  content: "";
  position: absolute;
  left: 0.95rem;
  top: 0.72rem;
  border-left: 0.9rem solid #fff;
  border-top: 0.55rem solid transparent;
  border-bottom: 0.55rem solid transparent;
}

.pill {
  display: inline-flex;
  align-items: baseline;
  gap: 0.35rem;
  background: var(--surface);
  border: 1px solid var(--border);
  border-radius: 999px;
  padding: 0.35rem 0.9rem;
  font-size: 0.95rem;
  color: var(--muted);
}
.pill strong { color: var(--text); font-variant-numeric: tabular-nums; }

.layout {
  max-width: 1160px;
  margin: 0 auto;
  padding: 1rem 1.5rem 3rem;
  display: grid;
  grid-template-columns: minmax(0, 1.25fr) minmax(0, 1fr);
  grid-template-rows: auto 1fr;
  grid-template-areas: "form key" "form progress";
  gap: 1.25rem;
  align-items: start;
}
/* The key comes first in the document (it is needed first), and on the right on wide screens. */
.area-key { grid-area: key; }
.area-form { grid-area: form; }
.area-progress { grid-area: progress; }

@media (max-width: 880px) {
  .layout { grid-template-columns: minmax(0, 1fr); grid-template-rows: none; grid-template-areas: "key" "form" "progress"; }
}

.card {
  background: var(--surface);
  border: 1px solid var(--border);
  border-radius: var(--radius);
  box-shadow: var(--shadow);
  padding: 1.4rem 1.5rem 1.5rem;
}
.card h2 { margin: 0 0 1rem; font-size: 1.1rem; }

.field { margin: 0 0 1.1rem; padding: 0; border: 0; min-width: 0; }
.field > label, .field > legend, .label {
  display: block;
  font-weight: 600;
  font-size: 0.92rem;
  margin-bottom: 0.35rem;
  padding: 0;
}
.optional { font-weight: 400; color: var(--muted); font-size: 0.85rem; margin-left: 0.25rem; }

input[type="text"], input[type="password"], input[type="number"], select, textarea {
  width: 100%;
  font: inherit;
  color: inherit;
  background: var(--surface);
  border: 1px solid var(--border);
  border-radius: var(--radius-small);
  padding: 0.55rem 0.7rem;
  transition: border-color 120ms ease, box-shadow 120ms ease;
}
textarea { resize: vertical; min-height: 2.75rem; }
select { appearance: auto; }
input:hover, select:hover, textarea:hover { border-color: color-mix(in srgb, var(--border), var(--text) 25%); }
input:focus-visible, select:focus-visible, textarea:focus-visible {
  outline: none;
  border-color: var(--focus);
  box-shadow: 0 0 0 3px color-mix(in srgb, var(--focus), transparent 65%);
}
input:disabled, select:disabled { opacity: 0.55; cursor: not-allowed; }

.invalid input, .invalid select, .invalid textarea { border-color: var(--danger); }

.hint { margin: 0.35rem 0 0; color: var(--muted); font-size: 0.85rem; }
.field-error {
  margin: 0.4rem 0 0;
  color: var(--danger);
  font-size: 0.88rem;
  font-weight: 600;
}
.field-error::before { content: "\26A0\FE0E  "; }

.grid-2 { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 0 1rem; }
@media (max-width: 520px) { .grid-2 { grid-template-columns: minmax(0, 1fr); } }

.segmented {
  display: inline-flex;
  flex-wrap: wrap;
  background: var(--surface-2);
  border: 1px solid var(--border);
  border-radius: var(--radius-small);
  padding: 3px;
  gap: 3px;
}
.segmented input { position: absolute; opacity: 0; width: 1px; height: 1px; }
.segmented label {
  display: inline-flex;
  align-items: center;
  gap: 0.4rem;
  padding: 0.35rem 0.8rem;
  border-radius: 6px;
  font-size: 0.92rem;
  cursor: pointer;
  color: var(--muted);
  user-select: none;
}
.segmented input:checked + label {
  background: var(--surface);
  color: var(--text);
  font-weight: 600;
  box-shadow: 0 1px 2px rgb(16 24 40 / 12%);
}
.segmented input:focus-visible + label { outline: 3px solid var(--focus); outline-offset: 1px; }

.ratio {
  display: inline-block;
  border: 1.5px solid currentColor;
  border-radius: 2px;
}
.ratio-RATIO_16_9 { width: 1rem; height: 0.6rem; }
.ratio-RATIO_9_16 { width: 0.6rem; height: 1rem; }
.ratio-RATIO_1_1 { width: 0.8rem; height: 0.8rem; }

.check { display: inline-flex; align-items: center; gap: 0.5rem; font-weight: 600; font-size: 0.92rem; cursor: pointer; }
.check input { width: 1.1rem; height: 1.1rem; accent-color: var(--accent); }

.subpanel {
  border: 1px solid var(--border);
  border-radius: var(--radius-small);
  background: var(--surface-2);
  padding: 0.9rem 1rem 1rem;
}
.subpanel .field { margin-bottom: 0.6rem; }
.subpanel > legend { padding: 0 0.35rem; margin-left: -0.35rem; }

button {
  font: inherit;
  font-weight: 600;
  border-radius: var(--radius-small);
  padding: 0.55rem 1.1rem;
  border: 1px solid transparent;
  cursor: pointer;
  white-space: nowrap;
}
button.primary { background: var(--accent); color: var(--on-accent); }
button.primary:hover { background: var(--accent-hover); }
button.secondary { background: var(--surface); color: var(--text); border-color: var(--border); }
button.secondary:hover { background: var(--surface-2); }
button:disabled { opacity: 0.6; cursor: progress; }

.row { display: flex; gap: 0.5rem; align-items: stretch; }
.row > input, .row > select { flex: 1; min-width: 0; }
.row > input[type="number"] { flex: 0 0 5.5rem; }
.key-current { display: flex; align-items: center; justify-content: space-between; gap: 0.75rem; flex-wrap: wrap; }
.key-current p { margin: 0; }

.submit-row {
  display: flex;
  align-items: center;
  justify-content: space-between;
  gap: 1rem;
  flex-wrap: wrap;
  border-top: 1px solid var(--border);
  margin-top: 0.4rem;
  padding-top: 1.1rem;
}
.estimate { margin: 0; color: var(--muted); flex: 1 1 14rem; }
.estimate strong { color: var(--text); font-size: 1.15rem; font-variant-numeric: tabular-nums; }
.estimate.over { color: var(--warning); }
.submit-row button { padding: 0.7rem 1.4rem; }

.alert {
  margin-top: 1rem;
  border-radius: var(--radius-small);
  padding: 0.8rem 1rem;
  border: 1px solid;
  background: var(--danger-soft);
  border-color: color-mix(in srgb, var(--danger), transparent 60%);
  color: var(--text);
}
.alert strong { display: block; color: var(--danger); margin-bottom: 0.15rem; }
.alert p { margin: 0; }

.status-line { margin: 0.5rem 0 0; font-size: 0.9rem; color: var(--muted); min-height: 1.35em; }
.status-line.error { color: var(--danger); font-weight: 600; }

.stats { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 0.6rem; margin: 1rem 0 0; }
.stats div { background: var(--surface-2); border: 1px solid var(--border); border-radius: var(--radius-small); padding: 0.55rem 0.75rem; }
.stats dt { color: var(--muted); font-size: 0.8rem; }
.stats dd { margin: 0; font-size: 1.2rem; font-weight: 700; font-variant-numeric: tabular-nums; }

.empty { color: var(--muted); margin: 0; }

.task-head { display: flex; align-items: center; gap: 0.6rem; flex-wrap: wrap; margin-bottom: 1rem; }
.task-head code { color: var(--muted); }
.badge {
  display: inline-block;
  border-radius: 999px;
  padding: 0.15rem 0.65rem;
  font-size: 0.82rem;
  font-weight: 700;
  background: var(--accent-soft);
  color: var(--accent);
}
.badge[data-status="SUCCEEDED"] { background: var(--success-soft); color: var(--success); }
.badge[data-status="FAILED"], .badge[data-status="TIMED_OUT"], .badge[data-status="CANCELED"] { background: var(--danger-soft); color: var(--danger); }

.steps { list-style: none; margin: 0; padding: 0; display: grid; grid-template-columns: repeat(4, minmax(0, 1fr)); gap: 0.4rem; counter-reset: step; }
.steps li { counter-increment: step; font-size: 0.82rem; color: var(--muted); }
.steps li::before {
  content: counter(step);
  display: flex;
  align-items: center;
  justify-content: center;
  height: 0.4rem;
  margin-bottom: 0.45rem;
  border-radius: 999px;
  background: var(--border);
  color: transparent;
  font-size: 0;
}
.steps li[data-state="done"]::before { background: var(--accent); }
.steps li[data-state="current"] { color: var(--text); font-weight: 600; }
.steps li[data-state="current"]::before {
  background: linear-gradient(90deg, var(--accent) 0 30%, var(--accent-soft) 30% 60%, var(--accent) 60%);
  background-size: 200% 100%;
  animation: shimmer 1.2s linear infinite;
}
.steps li[data-state="failed"] { color: var(--danger); font-weight: 600; }
.steps li[data-state="failed"]::before { background: var(--danger); }
.steps li[data-state="done"]:last-child { color: var(--success); font-weight: 600; }
.steps li[data-state="done"]:last-child::before { background: var(--success); }

@keyframes shimmer { from { background-position: 200% 0; } to { background-position: 0 0; } }
@media (prefers-reduced-motion: reduce) { .steps li[data-state="current"]::before { animation: none; } }

.task-message { margin: 1rem 0 0; }
.task-message.error { color: var(--danger); font-weight: 600; }

.facts { display: grid; grid-template-columns: auto 1fr; gap: 0.2rem 1rem; margin: 1rem 0 0; font-size: 0.9rem; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; overflow-wrap: anywhere; }

.result { margin: 1.2rem 0 0; }
.result video {
  display: block;
  width: 100%;
  aspect-ratio: 16 / 9;
  background: #0b0d12;
  border-radius: var(--radius-small);
}
.result video.portrait { aspect-ratio: 9 / 16; max-height: 28rem; width: auto; margin: 0 auto; }
.result video.square { aspect-ratio: 1 / 1; max-height: 24rem; width: auto; margin: 0 auto; }
.result figcaption { margin-top: 0.5rem; font-size: 0.9rem; }

.actions { display: flex; gap: 0.5rem; margin-top: 1rem; }

.footer { max-width: 1160px; margin: 0 auto; padding: 0 1.5rem 2rem; color: var(--muted); font-size: 0.85rem; }
`;

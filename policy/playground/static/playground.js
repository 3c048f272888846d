// sip-policy playground: the page. Plain JavaScript, no library, no build step.
// Everything the server sends is shown with textContent, never parsed as HTML.
"use strict";

const TOKEN = document.querySelector('meta[name="playground-token"]').content;
const CHECK_PAUSE_MS = 350;
const POLL_MS = 1000;
const $ = (id) => document.getElementById(id);

const state = {
  name: "rules.yaml",
  version: null, // the version on disk this editor text is based on
  savedText: "", // the text on disk at that version
  lines: 0,
  checkSeq: 0,
  checkTimer: null,
  check: null,
  presets: [],
  explained: false,
  saveGeneration: 0,
  charWidth: 7.8,
  lineHeight: 20,
  pad: 8,
};

// ---- small helpers ---------------------------------------------------------------------

async function api(path, body) {
  const options = { headers: { "X-Playground-Token": TOKEN }, cache: "no-store" };
  if (body !== undefined) {
    options.method = "POST";
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else node.setAttribute(key === "className" ? "class" : key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function setStatus(text, tone) {
  const status = $("status");
  status.textContent = text;
  status.className = "status" + (tone ? " " + tone : "");
}

function setBusy(value) {
  document.body.dataset.state = value;
}

// ---- the editor --------------------------------------------------------------------------

const editor = $("editor");

function measure() {
  const probe = el("span", { className: "mono" }, "x".repeat(100));
  probe.style.visibility = "hidden";
  probe.style.position = "absolute";
  probe.style.whiteSpace = "pre";
  document.body.append(probe);
  state.charWidth = probe.getBoundingClientRect().width / 100 || state.charWidth;
  probe.remove();
  const style = getComputedStyle(editor);
  state.lineHeight = parseFloat(style.lineHeight) || state.lineHeight;
  state.pad = parseFloat(style.paddingTop) || state.pad;
}

function renderGutter() {
  let count = 1;
  const text = editor.value;
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) count++;
  if (count === state.lines) return;
  state.lines = count;
  const numbers = new Array(count);
  for (let i = 0; i < count; i++) numbers[i] = String(i + 1);
  $("numbers").textContent = numbers.join("\n");
}

function syncScroll() {
  $("gutter-inner").style.transform = `translateY(${-editor.scrollTop}px)`;
  $("marks").style.transform = `translate(${-editor.scrollLeft}px, ${-editor.scrollTop}px)`;
}

function lineStart(line) {
  const text = editor.value;
  let pos = 0;
  for (let i = 1; i < line && pos !== -1; i++) pos = text.indexOf("\n", pos) + 1 || -1;
  return Math.max(pos, 0);
}

function caretLine() {
  const upto = editor.value.slice(0, editor.selectionStart);
  let line = 1;
  for (let i = upto.indexOf("\n"); i !== -1; i = upto.indexOf("\n", i + 1)) line++;
  return line;
}

function goToLine(line, column) {
  const pos = lineStart(line) + Math.max((column || 1) - 1, 0);
  editor.focus();
  editor.setSelectionRange(pos, pos);
  const top = state.pad + (line - 1) * state.lineHeight;
  if (top < editor.scrollTop || top > editor.scrollTop + editor.clientHeight - 2 * state.lineHeight) {
    editor.scrollTop = Math.max(top - editor.clientHeight / 3, 0);
  }
  showLineInfo();
}

function isDirty() {
  return editor.value !== state.savedText;
}

function onEdit() {
  renderGutter();
  $("dirty").hidden = !isDirty();
  clearTimeout(state.checkTimer);
  state.checkTimer = setTimeout(runCheck, CHECK_PAUSE_MS);
  setBusy("editing");
}

function onKey(event) {
  if (event.key === "Tab" && !event.shiftKey && !event.ctrlKey && !event.metaKey) {
    event.preventDefault(); // YAML indents with spaces
    editor.setRangeText("  ", editor.selectionStart, editor.selectionEnd, "end");
    onEdit();
  } else if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
    event.preventDefault();
    save(false);
  }
}

// ---- problems ----------------------------------------------------------------------------

function problemsHere() {
  return ((state.check && state.check.diagnostics) || []).filter((d) => d.here && d.line > 0);
}

function renderMarks() {
  const marks = $("marks");
  const gutterMarks = $("gutter-marks");
  marks.replaceChildren();
  gutterMarks.replaceChildren();
  const lines = editor.value.split("\n");
  const byLine = new Map();
  for (const d of problemsHere()) {
    if (!byLine.has(d.line)) byLine.set(d.line, []);
    byLine.get(d.line).push(d);
  }
  for (const [line, diags] of byLine) {
    const worst = diags.some((d) => d.severity === "error") ? "error" : "warning";
    const top = `${state.pad + (line - 1) * state.lineHeight}px`;
    const first = diags[0];
    const more = diags.length > 1 ? `  (+${diags.length - 1} more)` : "";
    const label = el("span", { className: "msg" }, `${first.severity}[${first.code}]: ${first.message}${more}`);
    const width = ((lines[line - 1] || "").length + 3) * state.charWidth;
    label.style.left = `${state.pad + width}px`;
    const mark = el("div", { className: `mark ${worst}`, dataset: { line: String(line) } }, label);
    mark.style.top = top;
    marks.append(mark);
    const dot = el("div", { className: `gmark ${worst}`, dataset: { line: String(line) } });
    dot.style.top = top;
    gutterMarks.append(dot);
  }
}

function diagnosticItem(d, here) {
  const where = here ? `line ${d.line}:${d.column}` : `${d.file}${d.line ? ":" + d.line : ""}`;
  const item = el(
    "li",
    { className: d.severity, dataset: { line: String(d.line), code: d.code } },
    el("span", { className: "where", text: where }),
    el("span", { className: "code", text: `${d.severity}[${d.code}]` }),
    el("span", { className: "msg", text: d.message }),
    el("div", { className: "help", text: `help: ${d.help || "see docs/errors.md#" + d.code}` }),
  );
  if (here && d.line > 0) item.addEventListener("click", () => goToLine(d.line, d.column));
  return item;
}

function renderProblems(result) {
  state.check = result;
  renderMarks();
  const list = $("problems");
  list.replaceChildren();
  const diags = result.diagnostics || [];
  for (const d of diags) list.append(diagnosticItem(d, d.here));
  $("problem-count").textContent = diags.length ? `(${plural(result.errors, "error")}, ${plural(result.warnings, "warning")})` : "";
  if (!diags.length) list.append(el("li", { className: "clean", text: "No problems: the worker would load this file." }));
  showLineInfo();
}

function showLineInfo() {
  const info = $("lineinfo");
  const line = caretLine();
  const here = problemsHere().filter((d) => d.line === line);
  info.replaceChildren();
  for (const d of here) {
    info.append(
      el("div", {}, el("strong", { text: `line ${d.line}: ${d.severity}[${d.code}] ` }), d.message),
      el("div", { className: "help", text: `help: ${d.help || "see docs/errors.md#" + d.code}` }),
    );
  }
}

async function runCheck() {
  clearTimeout(state.checkTimer);
  const seq = ++state.checkSeq;
  const text = editor.value;
  const started = performance.now();
  setBusy("checking");
  setStatus("checking…");
  let result;
  try {
    result = await api("/api/check", { text });
  } catch (error) {
    if (seq === state.checkSeq) setStatus(`cannot check: ${error.message}`, "bad");
    return;
  }
  if (seq !== state.checkSeq) return; // a newer edit is being checked
  const roundTrip = Math.round(performance.now() - started);
  renderProblems(result);
  const summary = result.ok
    ? `ok: ${plural(result.rules, "rule")}` + (result.warnings ? `, ${plural(result.warnings, "warning")}` : "")
    : `${plural(result.errors, "error")}` + (result.warnings ? `, ${plural(result.warnings, "warning")}` : "");
  setStatus(summary, result.ok ? "good" : "bad");
  $("status").title = `checked in ${roundTrip} ms`;
  document.body.dataset.roundTripMs = String(roundTrip);
  setBusy("checked");
  $("result").classList.toggle("stale", !result.ok);
  $("result").title = result.ok ? "" : "the rules have errors: this answer is from the last version without";
  if (result.ok && state.explained) explain();
}

// ---- the file on disk --------------------------------------------------------------------

async function loadFromDisk() {
  const file = await api("/api/file");
  state.name = file.name;
  state.version = file.version;
  state.savedText = file.text;
  editor.value = file.text;
  $("filename").textContent = file.name + (file.exists ? "" : " (new file)");
  $("disk-problem").textContent = file.problem || "";
  $("disk-problem").hidden = !file.problem;
  $("disk-changed").hidden = true;
  $("confirm").hidden = true;
  $("dirty").hidden = true;
  renderGutter();
  syncScroll();
  await runCheck();
}

async function poll() {
  if (document.hidden) return;
  const generation = state.saveGeneration;
  let answer;
  try {
    answer = await api("/api/version");
  } catch (error) {
    setStatus(`the playground server is not answering (${error.message})`, "bad");
    return;
  }
  if (generation !== state.saveGeneration || answer.version === state.version) return;
  if (!isDirty()) {
    await loadFromDisk();
    setStatus("reloaded: the file changed on disk", "good");
  } else {
    $("disk-message").textContent = `${state.name} changed on disk (another editor?).`;
    $("disk-changed").hidden = false;
  }
}

async function save(confirm) {
  const text = editor.value;
  state.saveGeneration++;
  let result;
  try {
    result = await api("/api/save", { text, base: state.version, confirm });
  } catch (error) {
    setStatus(`not saved: ${error.message}`, "bad");
    return;
  }
  state.saveGeneration++;
  if (result.saved) {
    state.version = result.version;
    state.savedText = text;
    $("confirm").hidden = true;
    $("disk-changed").hidden = true;
    $("dirty").hidden = !isDirty();
    renderProblems(result.check);
    setStatus(`saved ${state.name}` + (result.check.ok ? "" : " (with errors)"), result.check.ok ? "good" : "bad");
    setBusy("saved");
  } else {
    renderProblems(result.check);
    $("confirm-message").textContent = `Not saved: ${result.message}. Save anyway?`;
    $("confirm").hidden = false;
    setStatus("not saved", "bad");
    setBusy("confirm");
  }
}

// ---- a caller ----------------------------------------------------------------------------

function addAttributeRow(name, value) {
  const remove = el("button", { type: "button", title: "remove", "aria-label": "remove" }, "×");
  const row = el(
    "tr",
    {},
    el("td", {}, el("input", { className: "attr-name", list: "attribute-names", value: name || "", "aria-label": "attribute" })),
    el("td", {}, el("input", { className: "attr-value", value: value || "", "aria-label": "value" })),
    el("td", {}, remove),
  );
  remove.addEventListener("click", () => row.remove());
  $("attrs").tBodies[0].append(row);
  return row;
}

function readCaller() {
  const attributes = {};
  for (const row of $("attrs").tBodies[0].rows) {
    const name = row.querySelector(".attr-name").value.trim();
    if (name) attributes[name] = row.querySelector(".attr-value").value;
  }
  return { attributes, kind: $("kind").value.trim() || "sip", at: $("at").value.trim() };
}

function usePreset() {
  const chosen = $("preset").value;
  const preset = chosen === "" ? null : state.presets[Number(chosen)];
  $("attrs").tBodies[0].replaceChildren();
  if (!preset) {
    addAttributeRow("sip.phoneNumber", "");
    $("kind").value = "sip";
    $("at").value = "";
    $("result").replaceChildren();
    state.explained = false;
    return;
  }
  for (const [name, value] of Object.entries(preset.attributes)) addAttributeRow(name, value);
  $("kind").value = preset.kind || "sip";
  $("at").value = preset.at || "";
  explain();
}

async function loadPresets() {
  const answer = await api("/api/presets");
  state.presets = answer.presets;
  const select = $("preset");
  const groups = new Map();
  for (const preset of answer.presets) {
    if (!groups.has(preset.group)) groups.set(preset.group, el("optgroup", { label: preset.group }));
    groups.get(preset.group).append(el("option", { value: String(preset.id), text: preset.label }));
  }
  for (const group of groups.values()) select.append(group);
  $("kinds").replaceChildren(...answer.kinds.map((k) => el("option", { value: k })));
  $("attribute-names").replaceChildren(...answer.attributes.map((k) => el("option", { value: k })));
}

function ruleButton(name, line) {
  const button = el("button", { type: "button", className: "link", title: `go to line ${line}` }, name);
  if (line) button.addEventListener("click", () => goToLine(line, 1));
  return button;
}

function traceItem(step, decided) {
  let badge;
  let why;
  if (step.error === "disabled") [badge, why] = ["off", "disabled (enabled: false)"];
  else if (step.matched && !decided) [badge, why] = ["match", "all conditions hold; this rule decides"];
  else if (step.matched) [badge, why] = ["also", "would match too, but an earlier rule decided"];
  else {
    const f = step.failed;
    why = f ? `\`${f.attribute}\` is ${f.actual === null ? "missing" : "`" + f.actual + "`"}, expected ${f.expected}` : "did not match";
    if (step.error) why += ` (${step.error})`;
    badge = "no";
  }
  const where = step.file ? ` (${step.file}:${step.line})` : "";
  return el(
    "li",
    { className: `step ${badge}`, dataset: { rule: step.rule } },
    el("span", { className: `badge ${badge}`, text: badge.toUpperCase() }),
    step.file ? el("span", { className: "mono", text: step.rule }) : ruleButton(step.rule, step.line),
    where,
    el("span", { className: "why", text: ` ${why}` }),
  );
}

function renderExplanation(r) {
  const result = $("result");
  result.replaceChildren();
  result.classList.remove("stale");
  if (!r.ok) {
    result.append(el("p", { className: "summary bad", text: r.message }));
    return;
  }
  const head = el("h3", { id: "decision" });
  if (r.rule) head.append("Rule ", ruleButton(r.rule, r.rule_line), " decides");
  else head.append("No rule matched: the defaults apply");
  result.append(head);
  const outcome = el("table", { className: "outcome", id: "outcome" });
  for (const field of ["stt", "llm", "tts", "tools", "greeting", "metadata", "instructions"]) {
    let value = r.outcome[field];
    if (field === "tools") value = value.length ? value.join(", ") : "(none)";
    else if (field === "metadata") value = Object.keys(value).length ? JSON.stringify(value) : "(none)";
    else if (value === null || value === "") value = "(not set)";
    const from = r.outcome.sources[field] || "";
    outcome.append(
      el(
        "tr",
        { dataset: { field } },
        el("td", { text: field }),
        el("td", { className: "value" }, el("div", { className: field === "instructions" ? "long" : "", text: String(value) })),
        el("td", { className: "from", text: from ? `from ${from}` : "" }),
      ),
    );
  }
  result.append(el("h4", { text: "Outcome, and where each field came from" }), outcome);
  const trace = el("ol", { className: "trace", id: "trace" });
  let decided = false;
  for (const step of r.trace) {
    trace.append(traceItem(step, decided));
    decided = decided || (step.matched && step.error !== "disabled");
  }
  if (!r.trace.length) trace.append(el("li", { text: "(the file has no rules)" }));
  result.append(el("h4", { text: "Rules, in order" }), trace);
  const facts = Object.entries(r.facts || {});
  if (facts.length) {
    const list = el("ul", { className: "facts" });
    for (const [name, value] of facts.sort()) list.append(el("li", { className: "mono", text: `${name} = ${value === null ? "(unknown)" : value}` }));
    result.append(el("h4", { text: "Derived facts" }), list);
  }
  if ((r.errors || []).length) {
    const list = el("ul", {});
    for (const e of r.errors) list.append(el("li", { text: e.detail }));
    result.append(el("h4", { text: "Errors met (each made its condition false)" }), list);
  }
}

async function explain() {
  state.explained = true;
  setBusy("explaining");
  try {
    renderExplanation(await api("/api/explain", { text: editor.value, caller: readCaller() }));
  } catch (error) {
    renderExplanation({ ok: false, message: error.message });
  }
  setBusy("explained");
}

// ---- test cases --------------------------------------------------------------------------

async function runTests() {
  const summary = $("test-summary");
  const list = $("test-results");
  const problems = $("test-problems");
  list.replaceChildren();
  problems.replaceChildren();
  $("unreached").replaceChildren();
  summary.textContent = "running…";
  summary.className = "summary";
  let r;
  try {
    r = await api("/api/test", { text: editor.value });
  } catch (error) {
    r = { ok: false, message: error.message };
  }
  if (!r.ok) {
    summary.textContent = r.message;
    summary.className = "summary bad";
    return;
  }
  for (const c of r.cases) {
    const mark = c.passed ? "pass" : "fail";
    const item = el("li", { className: mark, dataset: { name: c.name } }, el("span", { className: `badge ${mark}`, text: mark.toUpperCase() }), c.name, el("span", { className: "note", text: `  → ${c.rule ? "rule " + c.rule : "no rule (defaults)"}` }));
    for (const failure of c.failures) item.append(el("div", { className: "failure", text: failure }));
    list.append(item);
  }
  for (const d of r.diagnostics) problems.append(diagnosticItem(d, false));
  const reached = r.rules - r.unreached.length;
  const unreached = $("unreached");
  unreached.append(el("p", { text: `Coverage: ${reached} of ${plural(r.rules, "rule")} reached by a case.` }));
  if (r.unreached.length) {
    const names = el("p", { id: "unreached-rules" }, "Rules no case reaches: ");
    r.unreached.forEach((name, i) => names.append(i ? ", " : "", el("code", { text: name })));
    unreached.append(names);
  }
  summary.textContent = `${r.passed} passed, ${r.failed} failed`;
  summary.className = "summary " + (r.failed || r.diagnostics.some((d) => d.severity === "error") ? "bad" : "good");
}

// ---- changes against the last commit -------------------------------------------------------

async function showDiff() {
  const pre = $("diff");
  const message = $("diff-message");
  const callers = $("diff-callers");
  pre.replaceChildren();
  callers.replaceChildren();
  message.textContent = "comparing…";
  let r;
  try {
    r = await api("/api/diff", { text: editor.value });
  } catch (error) {
    message.textContent = error.message;
    return;
  }
  message.textContent = r.message || (r.cut ? "(the change is long: only its start is shown)" : "");
  if (r.callers) {
    if (!r.callers.available) callers.textContent = r.callers.message;
    else callers.append(el("pre", { className: "diff callers", text: r.callers.text }));
  }
  for (const line of r.lines || []) {
    const kind = line.startsWith("@@") ? "hunk" : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "";
    pre.append(kind ? el("span", { className: kind, text: line }) : line + "\n");
  }
}

// ---- wiring --------------------------------------------------------------------------------

function showPanel(name) {
  for (const tab of document.querySelectorAll(".tabs button")) {
    const on = tab.dataset.panel === name;
    tab.setAttribute("aria-selected", String(on));
    $(`panel-${tab.dataset.panel}`).hidden = !on;
  }
}

async function start() {
  measure();
  editor.addEventListener("input", onEdit);
  editor.addEventListener("keydown", onKey);
  editor.addEventListener("scroll", syncScroll);
  for (const ev of ["click", "keyup"]) editor.addEventListener(ev, showLineInfo);
  $("save").addEventListener("click", () => save(false));
  $("confirm-save").addEventListener("click", () => save(true));
  $("confirm-cancel").addEventListener("click", () => { $("confirm").hidden = true; });
  $("disk-load").addEventListener("click", loadFromDisk);
  $("preset").addEventListener("change", usePreset);
  $("add-attr").addEventListener("click", () => addAttributeRow("", "").querySelector("input").focus());
  $("explain").addEventListener("click", explain);
  $("run-tests").addEventListener("click", runTests);
  $("show-diff").addEventListener("click", showDiff);
  for (const tab of document.querySelectorAll(".tabs button")) tab.addEventListener("click", () => showPanel(tab.dataset.panel));
  window.addEventListener("focus", poll);
  addAttributeRow("sip.phoneNumber", "");
  try {
    await Promise.all([loadFromDisk(), loadPresets()]);
  } catch (error) {
    setStatus(`cannot load: ${error.message}`, "bad");
    return;
  }
  setInterval(poll, POLL_MS);
}

start();

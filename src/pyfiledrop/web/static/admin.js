// The admin page: the summary (figures and two bar charts drawn as SVG), every upload a page at a
// time (filter by state, search by name, sort; keyset pages with Next and Previous), and the
// actions: delete, change the expiry, remove abandoned uploads. Everything comes from the JSON
// API under admin/api/ (relative to <base>: the app's sub-path). Names and errors from the server
// are only ever set as text. A 401 means the session ended: the page reloads into its sign-in.
import { lang, percent, size, t } from "./text.js";

const STATES = ["receiving", "assembling", "complete", "failed", "expired", "abandoned", "deleted"];
const SORTS = ["created", "updated", "size", "name"];
const SVG = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);

for (const element of document.querySelectorAll("[data-text]")) element.textContent = t(element.dataset.text);
for (const element of document.querySelectorAll("[data-label]")) {
  element.setAttribute("aria-label", t(element.dataset.label));
}

function option(select, value, text) {
  const choice = document.createElement("option");
  choice.value = value;
  choice.textContent = text;
  select.append(choice);
}
option($("state"), "", t("allStates"));
for (const state of STATES) option($("state"), state, t("state_" + state));
for (const sort of SORTS) option($("sort"), sort, t("sort_" + sort));
option($("order"), "desc", t("orderDesc"));
option($("order"), "asc", t("orderAsc"));

class Refused extends Error {}

// A call of the admin API: its JSON, or an Error whose message is the server's reason.
async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const response = await fetch("admin/api/" + path, { credentials: "same-origin", ...options });
  if (response.status === 401) {
    location.reload();  // the session ended: the sign-in page
    throw new Refused(t("serverAnswered", { status: 401 }));
  }
  let found = null;
  try { found = await response.json(); } catch (e) { /* not JSON: say the status */ }
  if (!response.ok) throw new Error(found?.error || t("serverAnswered", { status: response.status }));
  return found;
}

function notice(text) {
  $("notice").textContent = text || "";
  $("notice").hidden = !text;
}

function announce(text) {
  $("announce").textContent = text;
}

const when = (seconds) => new Date(seconds * 1000).toLocaleString(lang);
const day = (seconds) => new Date(seconds * 1000).toLocaleDateString(lang, { timeZone: "UTC" });

// --- the summary ---------------------------------------------------------------------------------

function figure(list, term, value) {
  const dt = document.createElement("dt");
  dt.textContent = term;
  const dd = document.createElement("dd");
  dd.textContent = value;
  const pair = document.createElement("div");
  pair.append(dt, dd);
  list.append(pair);
}

// Bars of `values` (one a day) with the largest one's height, each with a title telling its day.
function chart(into, days, values, label, describe) {
  const width = 8, gap = 2, height = 60;
  const top = Math.max(...values, 1);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${days.length * (width + gap)} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  days.forEach((found, n) => {
    const bar = document.createElementNS(SVG, "rect");
    const tall = values[n] ? Math.max(1, (values[n] / top) * height) : 0;
    bar.setAttribute("x", String(n * (width + gap)));
    bar.setAttribute("y", String(height - tall));
    bar.setAttribute("width", String(width));
    bar.setAttribute("height", String(tall));
    const title = document.createElementNS(SVG, "title");
    title.textContent = describe(found);
    bar.append(title);
    svg.append(bar);
  });
  into.replaceChildren(svg);
}

async function loadSummary() {
  const found = await api("summary");
  const list = $("figures");
  list.replaceChildren();
  figure(list, t("diskUsed"), size(found.content_bytes));
  figure(list, t("filesTotal"), size(found.stored_bytes));
  figure(list, t("savedByDedup"), size(found.saved_bytes));
  for (const state of STATES) figure(list, t("state_" + state), String(found.states[state]));
  const describe = (d) => t("dayBar", { date: day(d.start), count: d.uploads, size: size(d.bytes) });
  const total = (key) => found.days.reduce((sum, d) => sum + d[key], 0);
  chart($("chart-uploads"), found.days, found.days.map((d) => d.uploads),
    t("uploadsChart", { count: total("uploads") }), describe);
  chart($("chart-bytes"), found.days, found.days.map((d) => d.bytes),
    t("bytesChart", { size: size(total("bytes")) }), describe);
}

// --- the uploads ---------------------------------------------------------------------------------

const pages = [null];  // the `after` of each page seen so far: Previous goes back one
let next = null;
let now = Date.now() / 1000;

function query() {
  const params = new URLSearchParams({ sort: $("sort").value, order: $("order").value, limit: "50" });
  if ($("state").value) params.append("state", $("state").value);
  if ($("q").value.trim()) params.set("q", $("q").value.trim());
  const after = pages[pages.length - 1];
  if (after) params.set("after", after);
  return params;
}

function cell(row, text, title) {
  const td = document.createElement("td");
  td.textContent = text;
  if (title) td.title = title;
  row.append(td);
  return td;
}

function stateText(upload) {
  if (upload.state === "receiving" && upload.percent !== null && upload.percent !== undefined) {
    return t("receivingAt", {
      percent: percent(upload.percent / 100), speed: t("speed", { size: size(upload.bytes_per_second) }),
    });
  }
  if (upload.state === "receiving") return t("receivingBytes", { size: size(upload.received_bytes) });
  return t("state_" + upload.state);
}

function expiresText(upload) {
  if (upload.removed_at) {
    return t("removedOn", { date: when(upload.removed_at), size: size(upload.freed_bytes || 0) });
  }
  if (upload.state !== "complete") return "";
  if (upload.expires_at === null) return t("never");
  return upload.past_expiry ? t("pastExpiry", { date: when(upload.expires_at) }) : when(upload.expires_at);
}

function button(text, label, action) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  element.setAttribute("aria-label", label);
  element.addEventListener("click", action);
  return element;
}

function show(upload) {
  const row = document.createElement("tr");
  row.dataset.id = upload.id;
  const name = document.createElement("td");
  name.className = "name";
  if (upload.download_url) {
    const link = document.createElement("a");
    link.href = upload.download_url;
    link.textContent = upload.name;
    name.append(link);
  } else {
    name.textContent = upload.name;
  }
  if (upload.relative_path) {  // a file of a folder: where it was in it, as text
    const where = document.createElement("div");
    where.className = "folder-path";
    where.textContent = t("inFolder", { path: upload.relative_path });
    name.append(where);
  }
  row.append(name);
  cell(row, stateText(upload), upload.error || "").className = "state state-" + upload.state;
  cell(row, upload.size === null ? t("unknownSize") : size(upload.size), upload.size === null ? "" : String(upload.size));
  cell(row, upload.owner).className = "mono";
  cell(row, upload.account || "");
  cell(row, upload.address || "").className = "mono";
  cell(row, when(upload.created_at));
  cell(row, when(upload.updated_at));
  cell(row, expiresText(upload));
  const most = upload.max_downloads;
  cell(row, most === null ? String(upload.downloads) : t("downloadsOf", { count: upload.downloads, most }));
  cell(row, upload.sha256 ? upload.sha256.slice(0, 12) + "…" : "", upload.sha256 || "").className = "mono";
  const actions = cell(row, "");
  actions.className = "row-actions";
  if (upload.state === "complete" && !upload.past_expiry) {
    actions.append(button(t("changeExpiry"), t("changeExpiryFile", { name: upload.name }), () => askExpiry(upload)));
  }
  actions.append(button(t("delete"), t("deleteFile", { name: upload.name }), () => remove(upload)));
  return row;
}

async function loadUploads() {
  const found = await api("uploads?" + query());
  now = found.now;
  next = found.next;
  $("uploads").tBodies[0].replaceChildren(...found.uploads.map(show));
  $("empty").hidden = found.uploads.length > 0;
  $("previous").disabled = pages.length === 1;
  $("next").disabled = !next;
  $("page-number").textContent = t("pageNumber", { n: pages.length });
}

async function refresh() {
  try {
    await Promise.all([loadSummary(), loadUploads()]);
  } catch (error) {
    if (!(error instanceof Refused)) notice(error.message);
  }
}

function restart() {
  pages.length = 1;
  notice("");
  refresh();
}

$("filters").addEventListener("submit", (event) => {
  event.preventDefault();
  restart();
});
for (const id of ["state", "sort", "order"]) $(id).addEventListener("change", restart);
$("next").addEventListener("click", () => {
  if (!next) return;
  pages.push(next);
  loadUploads().catch((error) => notice(error.message));
});
$("previous").addEventListener("click", () => {
  if (pages.length === 1) return;
  pages.pop();
  loadUploads().catch((error) => notice(error.message));
});

// --- actions -------------------------------------------------------------------------------------

async function act(work, done) {
  notice("");
  try {
    await work();
    announce(done);
  } catch (error) {
    if (!(error instanceof Refused)) notice(error.message);
  }
  await refresh();
}

function remove(upload) {
  if (!confirm(t("confirmDelete", { name: upload.name }))) return;
  act(() => api(`uploads/${upload.id}/delete`, {}), t("deleted", { name: upload.name }));
}

$("remove-abandoned").addEventListener("click", async () => {
  let count = 0;
  try {
    count = (await api("summary")).states.abandoned;
  } catch (error) {
    notice(error.message);
    return;
  }
  if (!confirm(t("confirmRemoveAbandoned", { count }))) return;
  let removed = 0;
  await act(async () => { removed = (await api("abandoned/remove", {})).removed; }, "");
  announce(t("removedAbandoned", { count: removed }));
});

// The expiry dialog: a date and time in the browser's time zone, or for ever.
let editing = null;
const dialog = $("expiry");

function localInput(seconds) {
  const moment = new Date(seconds * 1000);
  moment.setMinutes(moment.getMinutes() - moment.getTimezoneOffset());
  return moment.toISOString().slice(0, 16);
}

function askExpiry(upload) {
  editing = upload;
  $("expiry-title").textContent = t("expiryTitle", { name: upload.name });
  $("expiry-never").checked = upload.expires_at === null;
  $("expiry-date").value = localInput(upload.expires_at ?? now + 7 * 86400);
  $("expiry-date").disabled = upload.expires_at === null;
  $("expiry-problem").hidden = true;
  dialog.showModal();
}

$("expiry-never").addEventListener("change", () => {
  $("expiry-date").disabled = $("expiry-never").checked;
});

$("expiry-form").addEventListener("submit", async (event) => {
  if (event.submitter?.value !== "save") return;  // Cancel closes the dialog
  event.preventDefault();
  const upload = editing;
  let expiresAt = null;
  if (!$("expiry-never").checked) {
    const chosen = new Date($("expiry-date").value).getTime();
    if (Number.isNaN(chosen)) {
      $("expiry-problem").textContent = t("expiryMissing");
      $("expiry-problem").hidden = false;
      return;
    }
    expiresAt = chosen / 1000;
  }
  try {
    await api(`uploads/${upload.id}/expiry`, { expires_at: expiresAt });
  } catch (error) {
    $("expiry-problem").textContent = error.message;
    $("expiry-problem").hidden = false;
    return;
  }
  dialog.close();
  announce(t("expiryChanged", { name: upload.name }));
  await refresh();
});

refresh();

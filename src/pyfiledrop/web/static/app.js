// The upload page: Dropzone configured from the server's settings, a list of this browser's
// uploads kept in localStorage, and resuming: a file dropped again after a reload or a failure
// sends only the chunks the server does not have. Pause, resume and cancel are in control.js,
// what the page shows of uploads in progress in progress.js, every text in text.js. Names from
// files or the server are only ever set as text. The uploader may choose a shorter life for the
// files than the server's limit, a download password and a most number of downloads (sent as
// headers with every chunk of a file, as chosen when it was dropped; the server keeps those of
// its first chunk).
import { controlTransfers } from "./control.js";
import { folderPicker, folderProgress, relativePath, zipList } from "./folders.js";
import { copyButton, showProgress } from "./progress.js";
import { lang, size, t } from "./text.js";

const config = JSON.parse(document.getElementById("pyfiledrop-config").textContent);
const STORE = "pyfiledrop.uploads";
const list = document.getElementById("uploaded");
const zips = zipList(list, config.allowDownloads);

for (const element of document.querySelectorAll("[data-text]")) {
  element.textContent = t(element.dataset.text);
}
for (const element of document.querySelectorAll("[data-label]")) {
  element.setAttribute("aria-label", t(element.dataset.label));
}
document.getElementById("limits").textContent = t(config.parallelChunks ? "limitsParallel" : "limits", {
  max: size(config.maxFilesize * 1024 * 1024),
  chunk: size(config.chunkSize),
  count: config.parallelChunkLimit,
});

function load() {
  try { return JSON.parse(localStorage.getItem(STORE)) || []; } catch (e) { return []; }
}

function show(item) {
  const row = document.createElement("li");
  const { into, shown } = zips.placeOf(item);
  const pick = zips.pickBox(item, shown);
  if (pick) row.append(pick);
  let name;
  if (config.allowDownloads && item.url) {
    name = document.createElement("a");
    name.href = item.url;
    name.setAttribute("download", item.name);
  } else {
    name = document.createElement("span");
  }
  name.className = "name";
  name.textContent = shown;
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = item.expires
    ? t("sizeUntil", { size: size(item.size || 0), date: new Date(item.expires * 1000).toLocaleString(lang) })
    : size(item.size || 0);
  if (item.sha256) meta.title = t("sha256", { hash: item.sha256 });
  row.append(name, meta);
  if (config.allowDownloads && item.share) {
    const share = document.createElement("a");
    share.href = item.share;
    share.className = "share-link";
    share.textContent = t("sharePage");
    row.append(share);
  }
  if (config.allowDownloads && item.url) row.append(copyButton(item.url, shown));
  into.append(row);
}

function remember(status) {
  const item = itemOf(status);
  const items = load();
  items.push(item);
  localStorage.setItem(STORE, JSON.stringify(items));
  show(item);
}

// Whether uploading needs the password (then this browser is signed in, or it would see the
// sign-in page instead), so that nobody takes an open server for a private one.
document.getElementById("access-text").textContent = config.account
  ? t("signedInAs", { name: config.account })
  : t(config.passwordRequired ? "signedIn" : "openUploads");
document.getElementById("sign-out").hidden = !config.passwordRequired;

// Who may download a file, and how often: asked only where there are downloads.
const downloadPassword = document.getElementById("download-password");
const maxDownloads = document.getElementById("max-downloads");
document.getElementById("terms").hidden = !config.allowDownloads;

// How long the server keeps a file: its limit (the first choice) or less, never more.
const expire = document.getElementById("expire");
function addChoice(value, text) {
  const option = document.createElement("option");
  option.value = value;
  option.textContent = text;
  expire.append(option);
}
addChoice("", config.expire ? t("keepLongest", { time: config.expireText }) : t("keepForever"));
for (const [seconds, value, key] of [[3600, "1h", "keep1h"], [86400, "1d", "keep1d"],
  [604800, "7d", "keep7d"], [2592000, "30d", "keep30d"]]) {
  if (!config.expire || seconds < config.expire) addChoice(value, t(key));
}

// The server keeps which uploads this browser made (its owner cookie): Show all lists every
// finished one again, newest first, after Clear or in a browser profile whose storage was wiped.
function itemOf(status) {
  return {
    name: status.filename, url: status.download_url, size: status.size, sha256: status.sha256,
    expires: status.expires_at, share: status.share_url, path: status.relative_path,
  };
}

async function restore() {
  const items = [];
  let after = null;
  do {
    const query = new URLSearchParams({ limit: "100" });
    if (after) query.set("after", after);
    const reply = await fetch("uploads?" + query, { headers: { Accept: "application/json" }, cache: "no-store" });
    const page = await reply.json();
    if (!reply.ok) throw new Error(page.error || t("serverAnswered", { status: reply.status }));
    items.push(...page.uploads.filter((u) => u.state === "complete").map(itemOf));
    after = page.next;
  } while (after);
  items.reverse();  // the list shows the oldest first, as it grew
  localStorage.setItem(STORE, JSON.stringify(items));
  zips.clear();
  items.forEach(show);
}

document.getElementById("restore").addEventListener("click", function () {
  restore().catch(function (err) {
    const notice = document.getElementById("notice");
    notice.textContent = t("restoreFailed", { reason: err.message });
    notice.hidden = false;
  });
});

document.getElementById("clear").addEventListener("click", function () {
  localStorage.removeItem(STORE);
  zips.clear();
});
load().forEach(show);

// Dropzone sends no "done" request: the server finishes the file itself once every chunk is in.
// Ask it, holding the call open until the file is complete (or failed, or already expired), and
// ask again while it is still being received or finished.
async function waitUntilComplete(uuid) {
  for (;;) {
    const reply = await fetch("upload/" + encodeURIComponent(uuid) + "?wait=20", { headers: { Accept: "application/json" } });
    const status = await reply.json();
    if (!reply.ok) throw new Error(status.error || t("serverAnswered", { status: reply.status }));
    if (status.state === "complete") return status;
    if (status.state === "expired") throw new Error(t("alreadyExpired"));
    if (status.state !== "receiving" && status.state !== "assembling") {
      throw new Error(status.error || t("serverCouldNotFinish"));
    }
  }
}

// The server finishes a file while it answers the chunk that completed it, when that is quick:
// that answer then says so, and no status call is needed. (Chunks the server held before a
// resume have no request of their own.)
function finishedAlready(file) {
  for (const chunk of file.upload.chunks || []) {
    try {
      const status = JSON.parse(chunk.response);  // Dropzone keeps each chunk's answer
      if (status && status.state === "complete") return status;
    } catch (err) { /* no answer to read: ask the server */ }
  }
  return null;
}

// --- Resuming -----------------------------------------------------------------------------------
// localStorage maps a file (name, size, lastModified and the chunk size) to the dzuuid this page
// gave its upload. Only uuids made here are ever looked up, and the server answers a status call
// only for the browser (cookie) that started the upload.
const RESUME = "pyfiledrop.resume";
const RESUME_MAX_AGE = 7 * 24 * 3600 * 1000;
const RESUME_MAX_ENTRIES = 200;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const claimed = new Set();  // uuids a file on this page is uploading: never resume one twice

function resumeKey(file, chunkSize) {
  return JSON.stringify([file.name, file.size, file.lastModified, chunkSize]);
}

function loadResume() {
  try {
    const entries = JSON.parse(localStorage.getItem(RESUME));
    return entries && typeof entries === "object" && !Array.isArray(entries) ? entries : {};
  } catch (e) { return {}; }
}

// Saves the map without entries older than 7 days, and only the newest 200.
function saveResume(entries) {
  const now = Date.now();
  const kept = Object.entries(entries)
    .filter(([, e]) => e && UUID.test(e.uuid) && typeof e.at === "number" && now - e.at < RESUME_MAX_AGE)
    .sort((a, b) => b[1].at - a[1].at)
    .slice(0, RESUME_MAX_ENTRIES);
  try {
    localStorage.setItem(RESUME, JSON.stringify(Object.fromEntries(kept)));
  } catch (e) { /* storage full or off: the upload works, it just cannot be resumed */ }
}

function rememberUpload(key, uuid) {
  const entries = loadResume();
  entries[key] = { uuid: uuid, at: Date.now() };
  saveResume(entries);
}

function forgetUpload(key, uuid) {
  const entries = loadResume();
  if (entries[key] && entries[key].uuid === uuid) {
    delete entries[key];
    saveResume(entries);
  }
}

// The server's record of an upload, or null if it has none for this browser (404, 403).
// Throws if the server could not be asked.
async function lookUp(uuid) {
  const reply = await fetch("upload/" + encodeURIComponent(uuid), {
    headers: { Accept: "application/json" }, cache: "no-store",
  });
  if (reply.status === 403 || reply.status === 404) return null;
  if (!reply.ok) throw new Error(t("serverAnswered", { status: reply.status }));
  return reply.json();
}

// Whether the page sends this file in chunks, under its dzuuid (else in one plain request).
function chunked(file) {
  const options = dropzone.options;
  const big = options.forceChunking || file.size > Number(options.chunkSize);
  return options.chunking && file.size > 0 && big;
}

// Runs before Dropzone queues a file: continue this file's earlier upload if the server is still
// receiving it, otherwise keep the fresh uuid Dropzone made and remember it for next time.
async function prepareResume(file) {
  const chunkSize = Number(dropzone.options.chunkSize);
  if (!chunked(file)) return;
  const key = resumeKey(file, chunkSize);
  const count = Math.ceil(file.size / chunkSize);
  const entry = loadResume()[key];
  file.pyfiledropResume = key;
  if (entry && UUID.test(entry.uuid) && !claimed.has(entry.uuid)) {
    claimed.add(entry.uuid);
    let status;
    try {
      status = await lookUp(entry.uuid);
    } catch (e) {
      claimed.delete(entry.uuid);
      file.pyfiledropResume = null;  // keep the entry: the server may still hold those chunks
      return;
    }
    if (status && status.state === "receiving" && status.size === file.size &&
        status.chunk_count === count && Array.isArray(status.received)) {
      file.upload.uuid = entry.uuid;
      skipChunks(file, status.received, chunkSize, count);
      rememberUpload(key, entry.uuid);
      return;
    }
    claimed.delete(entry.uuid);
  }
  claimed.add(file.upload.uuid);
  rememberUpload(key, file.upload.uuid);
}

// Dropzone has no way to skip chunks, so this works with the little of its internals that 5.9
// and 6.x share: each upload starts with `file.upload.chunks = []`; the next chunk sent is the
// first index whose entry is undefined; the file is done when every entry's status is
// Dropzone.SUCCESS; and progress adds up each entry's progress, total and bytesSent.
// An accessor on `chunks` sees that fresh array the moment it is assigned, before any chunk
// starts (serial or parallel), and fills in the chunks the server holds as finished ones: they
// are never sent, count as done, and the bar starts at their share. Nothing of Dropzone's code
// is copied or replaced, and the file's later uploads (retries by hand) get the same treatment.
function skipChunks(file, received, chunkSize, count) {
  const held = Array.from(new Set(received)).filter(function (i) {
    return Number.isInteger(i) && i >= 0 && i < count;
  }).sort(function (a, b) { return a - b; });
  // The server finishes a file on its last chunk; if it has them all but is still receiving,
  // send the last one again so that Dropzone has a request to finish on.
  if (held.length === count) held.pop();
  let chunks;
  Object.defineProperty(file.upload, "chunks", {
    configurable: true,
    enumerable: true,
    get: function () { return chunks; },
    set: function (value) {
      chunks = value;
      if (!Array.isArray(value) || value.length !== 0 || file.upload.totalChunkCount !== count) return;
      let bytes = 0;
      held.forEach(function (index) {
        const length = Math.min(chunkSize, file.size - index * chunkSize);
        value[index] = {
          file: file, index: index, status: Dropzone.SUCCESS, dataBlock: null,
          progress: 100, bytesSent: length, total: length, retries: 0,
        };
        bytes += length;
      });
      file.upload.progress = (100 * held.length) / count;
      file.upload.bytesSent = bytes;
      transfers.resumedWith(file, bytes);
      dropzone.emit("uploadprogress", file, file.upload.progress, bytes);
    },
  });
}

function release(file) {
  if (file.upload) claimed.delete(file.upload.uuid);
}

// After Cancel: the server removes what it received of the file, and the page forgets it.
async function discard(file) {
  if (!chunked(file)) return;  // a plain upload cut off leaves nothing on the server
  if (file.pyfiledropResume) forgetUpload(file.pyfiledropResume, file.upload.uuid);
  let reason;
  try {
    const reply = await fetch("upload/" + encodeURIComponent(file.upload.uuid), { method: "DELETE" });
    if (reply.ok || reply.status === 404) return;  // 404: no chunk of it had arrived
    const answer = await reply.json().catch(() => ({}));
    reason = answer.error || t("serverAnswered", { status: reply.status });
  } catch (e) {
    reason = e.message;  // no answer at all
  }
  const notice = document.getElementById("notice");
  notice.textContent = t("notRemoved", { name: file.name, reason: reason });
  notice.hidden = false;
}

Dropzone.autoDiscover = false;  // Dropzone 5 would otherwise attach itself a second time
// Dropzone 6 can send a chunk as the raw request body (binaryBody): no multipart to build in the
// browser or to parse on the server. Its dz* fields then go in the query string. Dropzone 5
// (through --dz-cdn/--dz-version) sends multipart forms as always.
const rawBodies = typeof Dropzone.version === "string" && parseInt(Dropzone.version, 10) >= 6;

function uploadUrl(files, dataBlocks) {
  const file = files[0];
  const query = new URLSearchParams({ filename: file.upload.filename });
  if (file.pyfiledropExpire) query.set("expire", file.pyfiledropExpire);
  if (relativePath(file)) query.set("path", relativePath(file));  // a file of a folder
  if (file.upload.chunked) {
    const index = dataBlocks[0].chunkIndex;
    const chunkSize = dropzone.options.chunkSize;
    query.set("dzuuid", file.upload.uuid);
    query.set("dzchunkindex", index);
    query.set("dztotalfilesize", file.size);
    query.set("dzchunksize", chunkSize);
    query.set("dztotalchunkcount", file.upload.totalChunkCount);
    query.set("dzchunkbyteoffset", index * chunkSize);
  }
  return "upload?" + query.toString();
}

const dropzone = new Dropzone("#dropper", {
  url: rawBodies ? uploadUrl : "upload",
  binaryBody: rawBodies,
  paramName: "file",
  chunking: true,
  forceChunking: config.forceChunking,
  parallelChunkUploads: config.parallelChunks ? config.parallelChunkLimit : false,
  retryChunks: true,
  retryChunksLimit: 3,
  timeout: config.timeout,
  maxFilesize: config.maxFilesize,
  chunkSize: config.chunkSize,
  dictDefaultMessage: t("dropMessage"),
  dictFileTooBig: t("fileTooBig"),
  dictResponseError: t("responseError"),
  dictUploadCanceled: t("uploadCanceled"),
  accept: function (file, done) {
    file.pyfiledropExpire = expire.value;  // the choices when the file was dropped
    file.pyfiledropTerms = { password: downloadPassword.value, most: maxDownloads.value.trim() };
    prepareResume(file).then(function () { done(); }, function () { done(); });
  },
  chunksUploaded: function (file, done) {
    const finished = finishedAlready(file);
    (finished ? Promise.resolve(finished) : waitUntilComplete(file.upload.uuid)).then(function (status) {
      file.pyfiledropStatus = status;
      done();
    }).catch(function (err) {
      dropzone._errorProcessing([file], err.message);
    });
  },
});
// A file's size on its tile as everywhere on the page: binary units (as maxFilesize, in MiB), and
// the language's decimal mark.
dropzone.filesize = size;
// Dropzone 5 never sends an empty file that it chunks (its chunk count is 0): send those whole.
const uploadFiles = dropzone.uploadFiles.bind(dropzone);
dropzone.uploadFiles = function (files) {
  if (files[0].size > 0) return uploadFiles(files);
  const chunking = dropzone.options.chunking;
  dropzone.options.chunking = false;
  try { return uploadFiles(files); } finally { dropzone.options.chunking = chunking; }
};
// The download terms go as headers on every request. Dropzone 5's forms: the life asked for and
// the relative path go before the file part, where the server reads them.
dropzone.on("sending", function (file, xhr, formData) {
  // Headers carry Latin-1 only: the password goes percent-encoded as UTF-8, as the server reads it.
  const terms = file.pyfiledropTerms || {};
  if (terms.password) xhr.setRequestHeader("Pyfiledrop-Download-Password", encodeURIComponent(terms.password));
  if (terms.most) xhr.setRequestHeader("Pyfiledrop-Max-Downloads", terms.most);
  if (rawBodies || !formData) return;
  if (file.pyfiledropExpire) formData.append("expire", file.pyfiledropExpire);
  if (relativePath(file)) formData.append("fullPath", relativePath(file));
});
folderPicker(dropzone);
dropzone.on("success", function (file, response) {
  file.pyfiledropStatus = file.pyfiledropStatus || response;  // a plain upload's reply is its status
  remember(file.pyfiledropStatus);
  if (file.pyfiledropResume) forgetUpload(file.pyfiledropResume, file.upload.uuid);
});
dropzone.on("complete", release);
dropzone.on("canceled", release);
dropzone.on("removedfile", release);
const transfers = controlTransfers(dropzone, discard);
folderProgress(dropzone, transfers);
showProgress(dropzone, transfers, (file) => config.allowDownloads && file.pyfiledropStatus.download_url);

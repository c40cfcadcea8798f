// What the page shows of each upload and of all of them: percent, speed and time left, from the
// bytes the server acknowledged, updated four times a second while anything is on its way and
// never on Dropzone's own progress events (one per network packet); the buttons to pause,
// resume, cancel and copy a link; and a live region that reads out what happened.
import { duration, percent, size, t } from "./text.js";

const TICK = 250; // ms between two updates of the figures
const WINDOW = 10000; // ms of acknowledged bytes the speed is measured over
const READ_OUT_EVERY = 5000; // ms at least between two read-outs of the overall progress
const BUSY = ["waiting", "uploading", "finishing"];
const CAN_STOP = ["waiting", "uploading", "paused"];

// Bytes per second over the last WINDOW ms, from samples of a growing count of bytes.
class Meter {
  constructor() {
    this.samples = [];
  }

  add(now, bytes) {
    const samples = this.samples;
    samples.push([now, bytes]);
    while (samples.length > 2 && now - samples[1][0] >= WINDOW) samples.shift();
  }

  // null until the samples span a second
  rate() {
    const samples = this.samples;
    if (samples.length < 2) return null;
    const [t0, b0] = samples[0];
    const [t1, b1] = samples[samples.length - 1];
    return t1 - t0 >= 1000 ? (1000 * (b1 - b0)) / (t1 - t0) : null;
  }

  reset() {
    this.samples = [];
  }
}

function button(text, label, onClick) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = text;
  element.setAttribute("aria-label", label);
  element.addEventListener("click", onClick);
  return element;
}

// Reads `text` out in the page's live region.
export function announce(text) {
  document.getElementById("announce").textContent = text;
}

async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch (e) { /* refused: try the old way */ }
  }
  // Plain http on another host is no secure context and has no navigator.clipboard.
  const area = document.createElement("textarea");
  area.value = text;
  area.className = "visually-hidden";
  document.body.append(area);
  area.select();
  try {
    return document.execCommand("copy");
  } catch (e) {
    return false;
  } finally {
    area.remove();
  }
}

// A button that copies `url`, says so for two seconds, and reads out whether it worked.
export function copyButton(url, name) {
  const copy = button(t("copyLink"), t("copyLinkFile", { name: name }), async function () {
    const copied = await copyText(url);
    copy.focus(); // the fallback moved it
    copy.textContent = t(copied ? "copied" : "copyFailed");
    announce(t(copied ? "announceCopied" : "announceCopyFailed", { name: name }));
    setTimeout(() => { copy.textContent = t("copyLink"); }, 2000);
  });
  return copy;
}

// Percent and then speed and time left, or what the upload is doing. Each part stays on one line.
function describe(share, phase, rate, left) {
  const parts = [percent(share)];
  if (phase === "uploading" && rate > 0) {
    parts.push(t("speed", { size: size(rate) }));
    if (left > 0) parts.push(t("left", { time: duration(left / rate) }));
  } else if (phase !== "uploading") {
    parts.push(t(phase));
  }
  return parts.map((part) => part.replace(/ /g, "\u00a0")).join(" · ");
}

// Shows `text` in a role=progressbar element, which a screen reader reads from aria-valuetext;
// false if it was shown already.
function show(view, text, share) {
  if (text === view.text) return false;
  view.text = text;
  view.status.textContent = text;
  view.status.setAttribute("aria-valuenow", String(Math.floor(100 * share)));
  view.status.setAttribute("aria-valuetext", text);
  return true;
}

function progressbar(className, label) {
  const status = document.createElement("p");
  status.className = className;
  status.setAttribute("role", "progressbar");
  status.setAttribute("aria-valuemin", "0");
  status.setAttribute("aria-valuemax", "100");
  status.setAttribute("aria-label", label);
  return status;
}

// `linkOf(file)` is the finished file's download link, or nothing.
export function showProgress(dropzone, control, linkOf) {
  const views = new WeakMap();
  const all = {
    box: document.getElementById("overall"),
    status: document.getElementById("overall-status"),
    bar: document.querySelector("#overall .bar span"),
    pause: document.getElementById("pause-all"),
    resume: document.getElementById("resume-all"),
    cancel: document.getElementById("cancel-all"),
    meter: new Meter(),
    tenth: 0,
    readOutAt: -Infinity,
  };
  let timer = null;
  let soon = false;

  function dropButton() {
    return dropzone.element.querySelector(".dz-button");
  }

  // A button hidden while it had the focus hands it on to the next one of its group, or to the drop
  // area. (The browser may have taken it away already, so `focused` is what had it before.)
  function refocus(focused) {
    if (!focused || !focused.closest("[hidden]")) return;
    const group = focused.closest(".actions");
    const next = group && Array.from(group.querySelectorAll("button")).find((b) => !b.hidden);
    (next || dropButton()).focus();
  }

  dropzone.on("addedfile", function (file) {
    const name = file.name;
    const view = {
      status: progressbar("status", t("progressOf", { name: name })),
      pause: button(t("pause"), t("pauseFile", { name: name }), () => toggle(file)),
      cancel: button(t("cancel"), t("cancelFile", { name: name }), () => cancel([file])),
      actions: document.createElement("div"),
      meter: new Meter(),
    };
    view.actions.className = "actions";
    view.actions.append(view.pause, view.cancel);
    const box = document.createElement("div");
    box.className = "pyfiledrop-file";
    box.append(view.status, view.actions);
    file.previewElement.append(box);
    // No name read twice: a picture's thumbnail gets it from Dropzone, other files have none.
    for (const image of file.previewElement.querySelectorAll("img")) image.alt = "";
    views.set(file, view);
    wake();
  });

  function toggle(file) {
    const paused = control.phase(file) === "paused";
    if (paused ? control.resume(file) : control.pause(file)) {
      announce(t(paused ? "announceResumed" : "announcePaused", { name: file.name }));
    }
    wake();
  }

  function cancel(files) {
    const hadFocus = document.activeElement;
    files.forEach((file) => control.cancel(file));
    announce(t("announceCanceled", { name: files.length === 1 ? files[0].name : t("allUploads") }));
    wake();
    if (!hadFocus.isConnected || hadFocus.closest("[hidden]")) dropButton().focus();
  }

  all.pause.addEventListener("click", function () {
    dropzone.files.slice().forEach((file) => control.pause(file));
    announce(t("announcePaused", { name: t("allUploads") }));
    wake();
  });
  all.resume.addEventListener("click", function () {
    dropzone.files.slice().forEach((file) => control.resume(file));
    announce(t("announceResumed", { name: t("allUploads") }));
    wake();
  });
  all.cancel.addEventListener("click", function () {
    cancel(dropzone.files.filter((file) => CAN_STOP.includes(control.phase(file))));
  });

  dropzone.on("success", wake);
  dropzone.on("error", function (file, message) {
    if (control.phase(file) === "canceled") return;
    const reason = typeof message === "string" ? message : (message && message.error) || "";
    announce(t("announceFailed", { name: file.name, reason: reason }));
    wake();
  });

  function enter(file, view, phase) {
    view.phase = phase;
    const paused = phase === "paused";
    view.pause.textContent = t(paused ? "resume" : "pause");
    view.pause.setAttribute("aria-label", t(paused ? "resumeFile" : "pauseFile", { name: file.name }));
    view.pause.hidden = view.cancel.hidden = !CAN_STOP.includes(phase);
    if (phase === "uploading") view.meter.reset(); // the speed starts afresh after a pause
    if (phase === "done") {
      const url = linkOf(file);
      if (url) view.actions.append(copyButton(url, file.name));
      announce(t("announceDone", { name: file.name }));
    }
  }

  // Returns whether the file is still on its way.
  function updateFile(file, now) {
    const view = views.get(file);
    const phase = control.phase(file);
    if (phase === view.phase && (phase === "done" || phase === "failed")) return false;
    if (phase !== view.phase) enter(file, view, phase);
    const done = Math.min(control.done(file), file.size);
    const share = file.size ? done / file.size : Number(phase === "done");
    if (phase === "uploading") view.meter.add(now, done);
    show(view, describe(share, phase, view.meter.rate(), file.size - done), share);
    return BUSY.includes(phase);
  }

  function updateAll(now) {
    let total = 0;
    let done = 0;
    let left = 0;
    const phases = new Set();
    const files = dropzone.files.filter(function (file) {
      const phase = control.phase(file);
      if (phase === "failed" || phase === "canceled") return false;
      const held = Math.min(control.done(file), file.size);
      total += file.size;
      done += held;
      if (phase === "waiting" || phase === "uploading") left += file.size - held;
      phases.add(phase);
      return true;
    });
    all.box.hidden = files.length === 0;
    const busy = BUSY.some((phase) => phases.has(phase));
    const phase = busy ? "uploading" : phases.has("paused") ? "paused" : "done";
    const share = total ? done / total : Number(phase === "done");
    if (phase === "uploading") all.meter.add(now, control.acknowledged());
    else all.meter.reset();
    const figures = describe(share, phase, all.meter.rate(), left);
    const text = t("files", { count: files.length }) + " · " + figures;
    if (show(all, text, share)) all.bar.style.width = 100 * share + "%";
    all.pause.hidden = !(phases.has("waiting") || phases.has("uploading"));
    all.resume.hidden = !phases.has("paused");
    all.cancel.hidden = !CAN_STOP.some((p) => phases.has(p));
    const tenth = Math.floor(10 * share);
    if (tenth < all.tenth || (busy && tenth > all.tenth && now - all.readOutAt >= READ_OUT_EVERY)) {
      if (tenth > all.tenth) announce(t("announceOverall", { percent: percent(share) }));
      all.tenth = tenth;
      all.readOutAt = now;
    }
  }

  function update() {
    const focused = document.activeElement;
    const now = performance.now();
    let busy = false;
    for (const file of dropzone.files) busy = updateFile(file, now) || busy;
    updateAll(now);
    refocus(focused);
    if (!busy) {
      clearInterval(timer);
      timer = null;
    }
  }

  // Updates at once (once for any number of calls in a row: a thousand files dropped at once),
  // and every TICK while anything is on its way.
  function wake() {
    if (timer === null) timer = setInterval(update, TICK);
    if (soon) return;
    soon = true;
    setTimeout(function () {
      soon = false;
      update();
    }, 0);
  }
}

// Folders and zips on the page. A dropped folder comes through Dropzone itself, which gives each
// of its files a `fullPath`; a chosen one through an <input webkitdirectory>, whose files carry a
// `webkitRelativePath`. Either is sent as the file's relative path (the server cleans it and
// keeps it as data). The list shows each folder once, with its files, their progress while they
// are on their way, and a link to download it as one zip; finished files can also be chosen one
// by one for a zip. Names are only ever set as text.
import { percent, size, t } from "./text.js";

// Where a file was in the folder it came from, or "" for a file dropped alone.
export function relativePath(file) {
  return file.fullPath || file.webkitRelativePath || "";
}

// The folder's name: the first name of a relative path.
export function topFolder(path) {
  const parts = String(path || "").split("/").filter(Boolean);
  return parts.length > 1 ? parts[0] : null;
}

// Choosing a folder: the button opens the folder picker; its files go to Dropzone as dropped ones.
export function folderPicker(dropzone) {
  const input = document.getElementById("folder-input");
  document.getElementById("choose-folder").addEventListener("click", () => input.click());
  input.addEventListener("change", function () {
    for (const file of Array.from(input.files)) {
      file.fullPath = file.webkitRelativePath;
      dropzone.addFile(file);
    }
    input.value = "";
  });
}

// The download token of a finished file's link (its last path segment).
function tokenOf(url) {
  return decodeURIComponent(new URL(url, document.baseURI).pathname.split("/").pop());
}

function download(href) {
  const link = document.createElement("a");
  link.href = href;
  link.setAttribute("download", "");
  document.body.append(link);
  link.click();
  link.remove();
}

// The list's folders, and the choice of finished files for one zip.
export function zipList(list, allowDownloads) {
  const folders = new Map(); // folder name -> { files: <ul>, meta: <span>, count, bytes }
  const button = document.getElementById("zip-selected");
  button.hidden = !allowDownloads;

  function picked() {
    return Array.from(list.querySelectorAll("input.pick:checked"));
  }

  function refresh() {
    button.disabled = picked().length === 0;
  }

  button.addEventListener("click", function () {
    const query = new URLSearchParams();
    for (const box of picked()) query.append("t", box.dataset.token);
    if (query.toString()) download("zip?" + query);
  });

  function folderOf(name) {
    let folder = folders.get(name);
    if (folder) return folder;
    const row = document.createElement("li");
    row.className = "folder";
    const head = document.createElement("div");
    head.className = "folder-head";
    const title = document.createElement("span");
    title.className = "name";
    title.textContent = name;
    const meta = document.createElement("span");
    meta.className = "meta";
    head.append(title, meta);
    if (allowDownloads) {
      const zip = document.createElement("a");
      zip.className = "zip";
      zip.href = "zip?" + new URLSearchParams({ folder: name });
      zip.setAttribute("download", name + ".zip");
      zip.textContent = t("downloadFolder");
      zip.setAttribute("aria-label", t("downloadFolderNamed", { name: name }));
      head.append(zip);
    }
    const files = document.createElement("ul");
    files.setAttribute("aria-label", t("folderNamed", { name: name }));
    row.append(head, files);
    list.append(row);
    folder = { files: files, meta: meta, count: 0, bytes: 0 };
    folders.set(name, folder);
    return folder;
  }

  // Where a finished file's row goes: the list, or its folder's list (its name there is its
  // path inside the folder). Returns the list and the name to show.
  function placeOf(item) {
    const name = topFolder(item.path);
    if (!name) return { into: list, shown: item.name };
    const folder = folderOf(name);
    folder.count += 1;
    folder.bytes += item.size || 0;
    folder.meta.textContent = t("folderFiles", { count: folder.count, size: size(folder.bytes) });
    return { into: folder.files, shown: item.path.split("/").slice(1).join("/") };
  }

  // A box to choose the file for a zip, or nothing when it cannot be downloaded.
  function pickBox(item, shown) {
    if (!allowDownloads || !item.url) return null;
    const box = document.createElement("input");
    box.type = "checkbox";
    box.className = "pick";
    box.dataset.token = tokenOf(item.url);
    box.setAttribute("aria-label", t("pickFile", { name: shown }));
    box.addEventListener("change", refresh);
    return box;
  }

  function clear() {
    folders.clear();
    list.replaceChildren();
    refresh();
  }

  refresh();
  return { placeOf: placeOf, pickBox: pickBox, clear: clear };
}

// Each folder on its way: how many files and how much of their bytes the server holds.
export function folderProgress(dropzone, control) {
  const box = document.getElementById("folder-progress");
  let timer = null;

  function update() {
    const byFolder = new Map();
    for (const file of dropzone.files) {
      const name = topFolder(relativePath(file));
      const phase = control.phase(file);
      if (!name || phase === "canceled") continue;
      const folder = byFolder.get(name) || { count: 0, total: 0, done: 0, busy: false };
      folder.count += 1;
      folder.total += file.size;
      folder.done += phase === "done" ? file.size : Math.min(control.done(file), file.size);
      folder.busy = folder.busy || !["done", "failed"].includes(phase);
      byFolder.set(name, folder);
    }
    const lines = [];
    let busy = false;
    for (const [name, folder] of byFolder) {
      const share = folder.total ? folder.done / folder.total : Number(!folder.busy);
      const line = document.createElement("li");
      line.textContent = t("folderProgress", { name: name, count: folder.count, percent: percent(share) });
      lines.push(line);
      busy = busy || folder.busy;
    }
    box.replaceChildren(...lines);
    box.hidden = lines.length === 0;
    if (!busy && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  }

  function wake() {
    if (timer === null) timer = setInterval(update, 250);
    setTimeout(update, 0);
  }
  for (const event of ["addedfile", "success", "error", "removedfile"]) dropzone.on(event, wake);
}

// The upload page: Dropzone configured from the server's settings, and a list of this browser's
// uploads kept in localStorage. Names from files or the server are only ever set as text.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("pyfiledrop-config").textContent);
  const STORE = "pyfiledrop.uploads";
  const list = document.getElementById("uploaded");

  function load() {
    try { return JSON.parse(localStorage.getItem(STORE)) || []; } catch (e) { return []; }
  }

  function humanSize(bytes) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
    return (i ? bytes.toFixed(1) : bytes) + " " + units[i];
  }

  function show(item) {
    const row = document.createElement("li");
    let name;
    if (config.allowDownloads && item.url) {
      name = document.createElement("a");
      name.href = item.url;
      name.setAttribute("download", item.name);
    } else {
      name = document.createElement("span");
    }
    name.className = "name";
    name.textContent = item.name;
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = humanSize(item.size || 0);
    if (item.sha256) meta.title = "SHA-256 " + item.sha256;
    row.append(name, meta);
    list.append(row);
  }

  function remember(status) {
    const item = { name: status.filename, url: status.download_url, size: status.size, sha256: status.sha256 };
    const items = load();
    items.push(item);
    localStorage.setItem(STORE, JSON.stringify(items));
    show(item);
  }

  document.getElementById("clear").addEventListener("click", function () {
    localStorage.removeItem(STORE);
    list.replaceChildren();
  });
  load().forEach(show);

  // Dropzone sends no "done" request: the server finishes the file itself once every chunk is in.
  // Ask it, holding the call open until the file is complete (or failed), and ask again if not.
  async function waitUntilComplete(uuid) {
    for (;;) {
      const reply = await fetch("/upload/" + encodeURIComponent(uuid) + "?wait=20", { headers: { Accept: "application/json" } });
      const status = await reply.json();
      if (!reply.ok) throw new Error(status.error || "The server answered " + reply.status);
      if (status.state === "complete") return status;
      if (status.state === "failed") throw new Error(status.error || "The server could not finish this file.");
    }
  }

  Dropzone.autoDiscover = false;  // Dropzone 5 would otherwise attach itself a second time
  const dropzone = new Dropzone("#dropper", {
    url: "/upload",
    paramName: "file",
    chunking: true,
    forceChunking: config.forceChunking,
    parallelChunkUploads: config.parallelChunks ? config.parallelChunkLimit : false,
    retryChunks: true,
    retryChunksLimit: 3,
    timeout: config.timeout,
    maxFilesize: config.maxFilesize,
    chunkSize: config.chunkSize,
    // Sizes in binary units, like maxFilesize (MiB) and the list below.
    filesizeBase: 1024,
    dictFileSizeUnits: { tb: "TiB", gb: "GiB", mb: "MiB", kb: "KiB", b: "B" },
    dictDefaultMessage: "Drop files here or click to choose them",
    chunksUploaded: function (file, done) {
      waitUntilComplete(file.upload.uuid).then(function (status) {
        file.pyfiledropStatus = status;
        done();
      }).catch(function (err) {
        dropzone._errorProcessing([file], err.message);
      });
    },
  });
  // Dropzone 5 never sends an empty file that it chunks (its chunk count is 0): send those whole.
  const uploadFiles = dropzone.uploadFiles.bind(dropzone);
  dropzone.uploadFiles = function (files) {
    if (files[0].size > 0) return uploadFiles(files);
    const chunking = dropzone.options.chunking;
    dropzone.options.chunking = false;
    try { return uploadFiles(files); } finally { dropzone.options.chunking = chunking; }
  };
  dropzone.on("success", function (file, response) {
    remember(file.pyfiledropStatus || response);  // a plain upload's reply is already its status
  });
})();

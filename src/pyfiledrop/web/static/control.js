// Pause, resume and cancel, which Dropzone lacks, and the bytes the server has acknowledged.
//
// Every request Dropzone sends goes through its `_uploadData(files, dataBlocks)`, in 5.9 and 6.x
// alike: one call per chunk, per retry of a chunk, and per plain upload. Wrapped here, it counts a
// request's bytes as acknowledged once the server answered it with 2xx, and keeps the request
// unsent while its file is paused.
//
// Pausing aborts the file's requests in flight and holds them, with any new ones; resuming sends
// them. The server records a chunk only once its last byte is written, so an aborted chunk is
// simply sent again, whole. A paused file gets the status "paused", which Dropzone knows nothing
// of: it leaves the file alone and starts the next queued file in its place.
// Cancelling aborts what is in flight and removes the file from Dropzone; `onCancel` then asks the
// server to remove what it received.

const PAUSED = "paused";

export function controlTransfers(dropzone, onCancel) {
  const transfers = new WeakMap();
  let acknowledged = 0; // bytes, over every file of this page; never goes down

  function transferOf(file) {
    let transfer = transfers.get(file);
    if (!transfer) {
      transfer = { base: 0, acked: 0, inFlight: new Set(), held: [], paused: false, canceled: false };
      transfers.set(file, transfer);
    }
    return transfer;
  }

  const uploadData = dropzone._uploadData;
  dropzone._uploadData = function (files, dataBlocks) {
    const transfer = transferOf(files[0]);
    if (transfer.paused) {
      transfer.held.push(dataBlocks);
      return;
    }
    uploadData.call(this, files, dataBlocks);
    const xhr = files[0].xhr; // the request it just sent
    const request = { xhr: xhr, dataBlocks: dataBlocks };
    transfer.inFlight.add(request);
    xhr.addEventListener("loadend", function () {
      transfer.inFlight.delete(request);
      if (xhr.status >= 200 && xhr.status < 300) {
        const bytes = dataBlocks.reduce((sum, block) => sum + block.data.size, 0);
        transfer.acked += bytes;
        acknowledged += bytes;
      }
    });
  };

  // A file paused before Dropzone started it is paused the moment Dropzone starts it (its chunks
  // are held), and its turn goes to the next file in the queue.
  dropzone.on("processing", function (file) {
    const transfer = transferOf(file);
    if (transfer.paused) {
      transfer.resumeAs = Dropzone.UPLOADING;
      file.status = PAUSED;
      setTimeout(() => dropzone.processQueue(), 0);
    }
  });

  // Where a file is: waiting, uploading, finishing (every byte acknowledged, the server finishes
  // the file), paused, done, failed or canceled.
  function phase(file) {
    const transfer = transferOf(file);
    if (transfer.canceled) return "canceled";
    if (file.status === Dropzone.SUCCESS) return "done";
    if (file.status === Dropzone.ERROR || file.status === Dropzone.CANCELED) return "failed";
    if (transfer.paused) return "paused";
    if (file.status !== Dropzone.UPLOADING) return "waiting";
    return done(file) >= file.size ? "finishing" : "uploading";
  }

  function pause(file) {
    const transfer = transferOf(file);
    if (!["waiting", "uploading"].includes(phase(file))) return false;
    transfer.paused = true;
    if (file.status === Dropzone.UPLOADING || file.status === Dropzone.QUEUED) {
      transfer.resumeAs = file.status;
      file.status = PAUSED;
      for (const request of Array.from(transfer.inFlight)) {
        request.xhr.abort(); // its loadend comes at once and takes it out of inFlight
        transfer.held.push(request.dataBlocks);
      }
      dropzone.processQueue();
    }
    return true;
  }

  function resume(file) {
    const transfer = transferOf(file);
    if (!transfer.paused || transfer.canceled) return false;
    transfer.paused = false;
    if (file.status === PAUSED) {
      file.status = transfer.resumeAs;
      for (const dataBlocks of transfer.held.splice(0)) dropzone._uploadData([file], dataBlocks);
      if (file.status === Dropzone.QUEUED) dropzone.processQueue();
    }
    return true;
  }

  function cancel(file) {
    const transfer = transferOf(file);
    if (!["waiting", "uploading", "paused"].includes(phase(file))) return false;
    transfer.canceled = true;
    transfer.paused = false;
    transfer.held = [];
    if (file.status === PAUSED) file.status = transfer.resumeAs;
    // Dropzone 5 aborts only the request that started last.
    for (const request of Array.from(transfer.inFlight)) request.xhr.abort();
    dropzone.removeFile(file);
    onCancel(file);
    return true;
  }

  // Bytes of the file the server holds: those it had when the upload was resumed, and those it
  // acknowledged since.
  function done(file) {
    const transfer = transferOf(file);
    return transfer.base + transfer.acked;
  }

  return {
    phase: phase,
    pause: pause,
    resume: resume,
    cancel: cancel,
    done: done,
    acknowledged: () => acknowledged,
    resumedWith: (file, bytes) => { transferOf(file).base = bytes; },
  };
}

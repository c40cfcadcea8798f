// Upload one file with the real tus-js-client (Node build) and report what happened.
//
//   node upload.mjs ENDPOINT FILE [OPTIONS_JSON]
//
// OPTIONS_JSON (all optional):
//   chunkSize, parallelUploads, retryDelays,
//   uploadDataDuringCreation, overridePatchMethod,
//   uploadLengthDeferred                      passed to tus.Upload as they are
//   uploadUrl                                 resume this upload URL
//   urlStorage                                path of a FileUrlStorage JSON file: store the URL
//                                             there, and resume the newest stored upload for
//                                             this file if there is one
//   abortAfter                                abort once this many bytes are accepted
//   buffer                                    read the file into a Buffer first (tus-js-client's
//                                             file-stream source gets Content-Length wrong for
//                                             the last chunk of a deferred-length upload)
//   delayMs                                   wait this long before each request (slows the
//                                             upload so a test can act while it runs)
//
// Prints JSON lines to stdout: {"event":"url",url} as soon as the upload URL is known, then
// one of {"event":"success"|"aborted",url,bytes,resumed} or {"event":"error",message}
// ("bytes": the most progress reported on success, the accepted offset when aborted).
import fs from 'node:fs'
import path from 'node:path'
import tus from 'tus-js-client'

const [endpoint, file, optionsJson] = process.argv.slice(2)
const opts = JSON.parse(optionsJson || '{}')
const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

let accepted = 0
let sent = 0
let resumed = false

const options = {
  endpoint,
  metadata: { filename: path.basename(file), filetype: 'application/octet-stream' },
  retryDelays: opts.retryDelays ?? null,
  onUploadUrlAvailable() {
    say({ event: 'url', url: upload.url })
  },
  onProgress(bytesSent) {
    sent = Math.max(sent, bytesSent)
  },
  onChunkComplete(_size, bytesAccepted) {
    accepted = bytesAccepted
    if (opts.abortAfter != null && bytesAccepted >= opts.abortAfter) {
      upload.abort().then(() => {
        say({ event: 'aborted', url: upload.url, bytes: accepted, resumed })
        process.exit(0)
      })
    }
  },
  onSuccess() {
    say({ event: 'success', url: upload.url, bytes: sent, accepted, resumed })
  },
  onError(error) {
    say({ event: 'error', message: String(error) })
    process.exitCode = 1
  },
}
const PASSED = [
  'chunkSize', 'parallelUploads', 'uploadUrl', 'uploadDataDuringCreation', 'overridePatchMethod',
  'uploadLengthDeferred',
]
for (const key of PASSED) {
  if (opts[key] != null) options[key] = opts[key]
}
if (opts.delayMs) {
  options.onBeforeRequest = () => sleep(opts.delayMs)
}
if (opts.urlStorage) {
  options.urlStorage = new tus.FileUrlStorage(opts.urlStorage)
}

const input = opts.buffer ? fs.readFileSync(file) : fs.createReadStream(file)
const upload = new tus.Upload(input, options)

if (opts.urlStorage) {
  const previous = await upload.findPreviousUploads()
  if (previous.length > 0) {
    previous.sort((a, b) => (a.creationTime < b.creationTime ? 1 : -1))
    upload.resumeFromPreviousUpload(previous[0])
    resumed = true
  }
}
resumed = resumed || Boolean(opts.uploadUrl)
upload.start()

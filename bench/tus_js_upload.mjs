// tus-js-client (its Node build) uploading one file, for bench/upload_bench.py.
//
//   node bench/tus_js_upload.mjs ENDPOINT FILE [OPTIONS_JSON]
//
// OPTIONS_JSON is handed to tus.Upload as it is (the benchmark sets parallelUploads and
// chunkSize). The file goes in as an fs.ReadStream with a path, so tus-js-client reads the slices
// it needs from disk (that is what lets it upload in parallel) and never holds the whole file.
//
// Prints one JSON line when the upload has ended, then exits:
//   {"event":"success","url":U,"ms":T,"cpuMs":C,"requests":[[method,concat,offset,start,end,status],...]}
//   {"event":"error","message":M}                              (exit status 1)
// Times are milliseconds of performance.now(), which counts from this process's start. A request
// starts when tus-js-client is about to send it and ends when its response is in; `concat` is
// its Upload-Concat header ("" when none), `offset` its Upload-Offset ("" when none).
import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { performance } from 'node:perf_hooks'

// require(), not import: it also looks in NODE_PATH, for a tus-js-client installed elsewhere.
const tus = createRequire(import.meta.url)('tus-js-client')

const [endpoint, file, optionsJson] = process.argv.slice(2)
const say = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`)
const started = new Map()
const requests = []

const upload = new tus.Upload(fs.createReadStream(file), {
  ...JSON.parse(optionsJson || '{}'),
  endpoint,
  metadata: { filename: path.basename(file), filetype: 'application/octet-stream' },
  retryDelays: null, // a failure is a failed measurement, not something to ride out
  onBeforeRequest(req) {
    started.set(req, performance.now())
  },
  onAfterResponse(req, res) {
    requests.push([
      req.getMethod(),
      req.getHeader('Upload-Concat') ?? '',
      req.getHeader('Upload-Offset') ?? '',
      started.get(req),
      performance.now(),
      res.getStatus(),
    ])
  },
  onSuccess() {
    const ms = performance.now()
    const cpu = process.cpuUsage()
    say({ event: 'success', url: upload.url, ms, cpuMs: (cpu.user + cpu.system) / 1000, requests })
    process.exit(0)
  },
  onError(error) {
    say({ event: 'error', message: String(error) })
    process.exit(1)
  },
})
upload.start()

"""S3-compatible object storage (AWS S3, SeaweedFS, MinIO, ...), through boto3.

Layout in the bucket, every key under the prefix P of `--storage s3://bucket/P`:
    P/files/<id>                      an upload in progress is an S3 multipart upload for this
                                      key; `seal` completes it into this object (scratch while
                                      its `sealed` marker is there), and `place` makes it the
                                      finished file by removing the marker: S3 has no rename,
                                      and a copy to another key would be a pass over every byte
                                      in the store (2-6 s per GiB on SeaweedFS here). The core
                                      records the key per content (`Content.placed_at`), so the
                                      same content is still one object however many uploads
                                      point to it. The UploadId is found again by listing the
                                      multipart uploads with the key as prefix (the oldest one,
                                      if a race made two), so nothing is kept in a process's
                                      memory or in the metadata store.
    P/files/ab/cd/<sha256>            finished files of versions 0005-0006, which copied each
                                      file to its content's SHA-256 (the core's `content_key`);
                                      versions before those kept them under P/files/<id>, and
                                      the migration moves them here.
    P/partial/<id>/c/<part>/<offset>  a chunk smaller than S3's 5 MiB minimum part, staged as an
                                      object until `seal` gathers its group into part <part>
    P/partial/<id>/s/<offset>         stream bytes (tus) stored at a flush that do not fill a
                                      whole part yet
    P/partial/<id>/p/<part>           "<ETag> <size>" of the upload of part <part> that counts.
                                      SeaweedFS lists every upload of a re-sent part number and
                                      completes with whichever ETag it is given, so the list
                                      cannot say which is current; the last writer's record can
                                      (writers of one chunk take turns: the core's chunk claims)
    P/partial/<id>/sealed             marks an upload whose multipart upload was completed
                                      (by `seal`, or to be copied from by a tus concatenation)
                                      and that is not placed: its object under files/ is
                                      scratch, removed by `discard`

How parts are made:
- Chunks (Dropzone, the command-line client) of at least 5 MiB, at most 10,000 of them: chunk i
  is part i + 1, uploaded straight from the request (the last, shorter chunk is the last part).
  A re-sent chunk replaces its part. No byte is written twice.
- Smaller chunks (1 MB ones given by `--chunk-size`, a file's last chunk): groups of
  `ceil(5 MiB / chunk size)` consecutive chunks (more if the file would need more than 10,000
  parts) make one part; each chunk is a staging object until `seal` downloads each group and
  uploads it as its part.
  Each byte then crosses the network three times, so the page sends 8 MiB chunks to S3 by
  default (`config.S3_PAGE_CHUNK`).
  A chunk's length is known from the layout, so its call (UploadPart, or PutObject for a staged
  chunk) starts with its first byte and sends the rest as it arrives (body.py): a request holds
  at most `PIPE_BYTES` of it, whatever the chunk size.
- Streams (tus PATCHes of any size, plain uploads): the file is cut into cells of `part_size`
  bytes; a cell is part `cell + 1`. Bytes are held in memory until their cell is full, then
  uploaded as its part; a `flush` before that stores the held bytes as a staging object. When a
  cell fills, the staged bytes of its start are downloaded and sent with the rest. The last cell
  is gathered by `seal`. `part_size` is chosen so the largest file allowed fits in 10,000.
  A stream's cell is held, not sent as it arrives: a PATCH may end anywhere, and its bytes must
  then be stored, but a part whose upload has begun cannot be cut short. What a stream holds
  beyond `STREAM_ALLOWANCE` takes room that writers share (at most `cache_bytes`, cache.py); when
  there is none the writer stages what it holds, so memory stays bounded at any load.

Concatenation (tus): parts can be copied by the store (UploadPartCopy) only from objects, not
from an unfinished multipart upload. So each whole partial upload is first sealed: its multipart
upload completed into its object (its last cell gathered, as `seal` does), once. The final
upload's parts are then ranges of those objects copied by the store, or, where S3's 5 MiB minimum
part forbids it, downloaded and sent together (concat.py plans which). A sealed source stays
as it is, ready for another concatenation, until it is discarded.

Hashing: an unfinished multipart upload's parts cannot be read back. The bytes this process
uploaded are kept in memory until the core's running SHA-256 has read past them (`release`): a
chunk's copy is made while it arrives, in room that writers and kept copies share (`cache_bytes`
in all). A chunk's writer waits up to `cache.PATIENCE` for room, which the digest frees as it
reads; the chunk the digest reads next takes room at once. Before a kept copy is used it is
checked once against the part's record (or the staging object's ETag), so `read` returns the
bytes stored now or raises OSError, never a stale copy. Staging objects are read back from the
store. When the digest could not follow (no room came in time, or another process received the
chunks), `seal` downloads the finished object once and hashes it (bench/s3_bench.py measures
both); the upload's copies are then dropped at once, not kept for a digest that cannot finish
(cache.py). So the part bytes in memory stay within `cache_bytes` and one chunk (the one a
digest reads next), never beyond twice `cache_bytes`; plus `STREAM_ALLOWANCE` and a pipe per
request.

Failure modes:
- The store unreachable, refusing the credentials, the bucket gone, or answering 5xx: every call
  raises `StorageUnavailable` naming the reason; the core answers 503 and keeps the upload as it
  was. Stored parts stay in the store, so the upload resumes when it is back.
- A process killed mid-part: S3 keeps only whole parts and whole objects; the core records a
  chunk only after its part is stored, so the chunk is simply sent again and replaces it.
- Killed between CompleteMultipartUpload and the database saying complete: `seal` finds the
  object sealed and hashes it again; `place` finds its marker gone and is done. Versions
  before 0007 left no marker on a sealed object other than a concatenation's source: one
  such object cut short and then deleted stays in the bucket (a finished file, to `discard`).
- Two processes creating the multipart upload at the same moment both keep the oldest one; only
  the upload's creator makes it, and a part waits `CREATE_WAIT` for it first, so this needs a
  crash between the record and the multipart upload. A writer whose chunk claim ran out while it
  hung may leave its (identical, re-sent) bytes as the part that counts.
- A completed upload is never aborted (SeaweedFS then destroys the object, issues 10663 and
  11382): `discard` aborts only when no object is in place under the upload's key.
- Staging objects left by a crash are removed with their upload (`discard`, `partials`).
  Unfinished uploads that no record names are aborted at start; a bucket lifecycle rule
  (AbortIncompleteMultipartUpload) is still advisable for what an operator deletes by hand.

Modules: client.py (the S3 calls and their errors), body.py (request bodies sent as they arrive),
cache.py (the memory budgets and the copies kept for the digest), unfinished.py (multipart
uploads, part records, staging objects, reading back), writers.py (part writers), concat.py (the
plan of a tus concatenation), store.py (`S3Storage`, the contract).
"""

from __future__ import annotations

from pyfiledrop.storage.s3.client import STREAM_THREADS
from pyfiledrop.storage.s3.store import S3Storage
from pyfiledrop.storage.s3.unfinished import MIB, stream_part_size

__all__ = ["S3Storage", "connect", "stream_part_size"]


def connect(
    bucket: str,
    prefix: str,
    *,
    endpoint: str | None,
    region: str | None,
    part_size: int,
    threads: int = 32,
    cache_bytes: int = 48 * MIB,
) -> S3Storage:
    """An `S3Storage` on a boto3 client; credentials come the usual AWS ways (environment
    variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, an instance role)."""
    import boto3
    from botocore.config import Config

    config = Config(
        max_pool_connections=threads + STREAM_THREADS,
        retries={"max_attempts": 2, "mode": "standard"},  # then 503: clients retry
        connect_timeout=5,
        read_timeout=60,
        # Bodies are not hashed for the signature (UNSIGNED-PAYLOAD, as SDKs do over https):
        # that is a second SHA-256 pass over every byte; botocore's CRC32 checksum still
        # guards each body. Use an https endpoint where the network is not trusted.
        s3={"addressing_style": "path" if endpoint else "auto", "payload_signing_enabled": False},
        # Checksums are asked for per call (`Bucket.call`): by default botocore would compute
        # one for every upload in a header, reading the body first, which a body still arriving
        # cannot give (it has no `tell`, and is read once).
        request_checksum_calculation="when_required",
        signature_version="s3v4",  # presigned URLs too (else SigV2, which stores refuse)
    )
    client = boto3.client("s3", endpoint_url=endpoint, region_name=region, config=config)
    shown = endpoint or f"https://s3.{region or 'us-east-1'}.amazonaws.com"
    return S3Storage(
        client, bucket, prefix, endpoint=shown, part_size=part_size, threads=threads,
        cache_bytes=cache_bytes,
    )  # fmt: skip

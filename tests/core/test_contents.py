"""Files stored once by content, in-process, on both back ends (local disk + SQLite, S3 +
PostgreSQL), with the clean-up's rig: services sharing one database and one storage, as processes
would, and a clock only the tests move."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import pytest

from pyfiledrop import errors
from pyfiledrop.core.cleanup import Removed
from pyfiledrop.core.interfaces import StorageUnavailable
from pyfiledrop.core.model import Layout, State, Upload, content_key
from pyfiledrop.core.receiving import Declared
from pyfiledrop.core.service import UploadService
from tests.core.test_cleanup import CHUNK, DATA, HOUR, Rig, chunked, drive, other_data, rig

__all__ = ["rig"]  # the fixture, shared with the clean-up's tests


async def files_held(rig: Rig, svc: UploadService) -> list[str]:
    """The keys of the finished files in the storage."""
    if svc.local_files is not None:
        root = rig.tmp / "s" / "files"
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert rig.seaweed is not None
    listed = rig.seaweed.client().list_objects_v2(Bucket="cleanup", Prefix=f"{rig.prefix}/files/")
    start = len(f"{rig.prefix}/files/")
    return sorted(o["Key"][start:] for o in listed.get("Contents", []))


def placed(svc: UploadService, placer: Upload) -> str:
    """Where the content of `placer` is stored once: under its content key where a rename is
    free (local disk), else where `placer`, the upload that placed it, was sealed (S3)."""
    assert placer.sha256 is not None
    return content_key(placer.sha256) if svc.local_files is not None else placer.id


async def contents_row(svc: UploadService, sha256: str) -> tuple[int, str] | None:
    """(refs, state) of the content, read as the store's own SQL would."""
    meta: Any = svc._meta
    if hasattr(meta, "_rows"):
        rows = await meta._rows("SELECT refs, state FROM contents WHERE sha256 = %s", (sha256,))
    else:
        rows = await meta._read(
            lambda db: db.execute(
                "SELECT refs, state FROM contents WHERE sha256 = ?", (sha256,)
            ).fetchall()
        )
    return (rows[0][0], rows[0][1]) if rows else None


def test_the_same_content_twice_is_stored_once_and_freed_by_the_last(rig: Rig) -> None:
    async def go() -> None:
        svc = await rig.started()
        short = await chunked(svc, [0, 1, 2], expire="10m")
        kept = await chunked(svc, [0, 1, 2])
        digest = hashlib.sha256(DATA).hexdigest()
        assert short.storage_key == kept.storage_key == placed(svc, short)
        assert await files_held(rig, svc) == [placed(svc, short)], "stored once"
        assert not {short.id, kept.id} & await svc._storage.partials(), "no copy left over"
        assert await contents_row(svc, digest) == (2, "present")
        rig.clock.advance(600)
        due = await svc.cleanup.due()  # gc --dry-run says what the pass will then do
        assert [(r.kind, r.upload_id, r.freed_bytes) for r in due] == [("expired", short.id, 0)]
        assert await svc.cleanup.run_once() == Removed(expired=1, freed_bytes=0)
        assert (await svc.refresh(short)).freed_bytes == 0, "the other upload still uses it"
        assert await files_held(rig, svc) == [placed(svc, short)]
        assert kept.download_token and await svc.downloadable(kept.download_token)
        both = await chunked(svc, [0, 1, 2], expire="10m")
        await svc.delete(kept)
        again = await chunked(svc, [0, 1, 2], expire="10m")
        rig.clock.advance(600)
        due = await svc.cleanup.due()  # two expire together: the content is freed once
        assert sorted(r.freed_bytes for r in due) == [0, len(DATA)], due
        assert {r.upload_id for r in due} == {both.id, again.id}
        assert await svc.cleanup.run_once() == Removed(expired=2, freed_bytes=len(DATA))
        assert await files_held(rig, svc) == [], "the last one frees it"
        assert await contents_row(svc, digest) is None

    drive(rig, go)


def test_a_new_upload_of_content_being_removed_waits_then_stores_it_again(rig: Rig) -> None:
    """The removal of the last upload of a content and a new upload of the same bytes, at once
    (two services, as two processes): the new upload waits while the file is being removed, then
    stores its own copy, never pointing to a file that is going away."""

    async def go() -> None:
        old_owner, new_owner = await rig.started(), await rig.started()
        old = await chunked(old_owner, [0, 1, 2])
        removing, go_on = asyncio.Event(), asyncio.Event()
        remove = old_owner._storage.remove

        async def slow_remove(key: str) -> None:
            removing.set()
            await go_on.wait()
            await remove(key)

        old_owner.finisher.contents.storage = slow_remove_storage(old_owner, slow_remove)
        deleting = asyncio.create_task(old_owner.delete(old))
        await removing.wait()
        finishing = asyncio.create_task(chunked(new_owner, [0, 1, 2]))
        digest = hashlib.sha256(DATA).hexdigest()
        for _ in range(20):  # the new upload is whole and waits for the removal
            await asyncio.sleep(0.05)
        assert not finishing.done()
        assert await contents_row(new_owner, digest) == (0, "removing")
        go_on.set()
        await deleting
        new = await finishing
        assert new.state == State.COMPLETE and new.storage_key == placed(new_owner, new)
        assert await files_held(rig, new_owner) == [placed(new_owner, new)]
        assert new.download_token
        assert await new_owner.present(await new_owner.downloadable(new.download_token))
        assert await contents_row(new_owner, digest) == (1, "present")

    drive(rig, go)


def slow_remove_storage(svc: UploadService, remove: Any) -> Any:
    """`svc`'s storage with `remove` replaced."""

    class Slow:
        def __getattr__(self, name: str) -> Any:
            return getattr(svc._storage, name)

    slow = Slow()
    slow.remove = remove  # type: ignore[attr-defined]
    return slow


def test_many_removals_and_new_uploads_of_one_content_at_once_never_lose_it(rig: Rig) -> None:
    """Rounds of: delete the upload holding a content in one service while another uploads the
    same bytes. Whichever wins, the new upload's file is in place and counted once."""

    async def go() -> None:
        a, b = await rig.started(), await rig.started()
        current = await chunked(a, [0, 1, 2])
        digest = hashlib.sha256(DATA).hexdigest()
        for round_ in range(8):
            _, fresh = await asyncio.gather(a.delete(current), chunked(b, [0, 1, 2]))
            assert fresh.state == State.COMPLETE, (round_, fresh.error)
            assert await files_held(rig, b) == [fresh.storage_key], round_
            assert fresh.storage_key in (placed(b, fresh), placed(b, current)), round_
            assert await contents_row(b, digest) == (1, "present"), round_
            a, b, current = b, a, fresh

    drive(rig, go)


def test_a_removal_cut_short_is_finished_by_the_next_pass(rig: Rig) -> None:
    async def go() -> None:
        svc = await rig.started()
        done = await chunked(svc, [0, 1, 2])

        svc.finisher.contents.storage = slow_remove_storage(svc, _raising)
        await svc.delete(done)
        digest = hashlib.sha256(DATA).hexdigest()
        assert await contents_row(svc, digest) == (0, "removing")
        assert await files_held(rig, svc) == [placed(svc, done)], "the store refused"
        assert await svc.cleanup.run_once() == Removed()
        assert await files_held(rig, svc) == [] and await contents_row(svc, digest) is None

    drive(rig, go)


async def _raising(key: str) -> None:
    raise OSError("the store is down")


def test_a_file_removed_by_hand_is_a_clear_410_and_the_upload_is_marked(rig: Rig) -> None:
    async def go() -> None:
        svc = await rig.started()
        done = await chunked(svc, [0, 1, 2])
        assert done.storage_key and done.download_token
        await svc._storage.remove(done.storage_key)  # by hand, behind the server's back
        with pytest.raises(errors.UploadError) as missing:
            await svc.present(await svc.downloadable(done.download_token))
        assert missing.value.status == 410 and "missing" in missing.value.message
        record = await svc.refresh(done)
        assert record.state == State.FAILED and record.error and "missing" in record.error
        with pytest.raises(errors.UploadError) as again:  # the next try is told the same
            await svc.downloadable(done.download_token)
        assert again.value.status == 410 and again.value.code == "content_missing"
        again_sent = await chunked(svc, [0, 1, 2])  # the same bytes sent again put it back
        assert again_sent.state == State.COMPLETE and again_sent.download_token
        assert await svc.present(await svc.downloadable(again_sent.download_token))

    drive(rig, go)


def test_an_owner_that_has_the_content_gets_a_complete_upload_without_sending(rig: Rig) -> None:
    async def go() -> None:
        svc = await rig.started()
        sent = await chunked(svc, [0, 1, 2])
        digest = hashlib.sha256(DATA).hexdigest()
        count = Layout.expected_count(len(DATA), CHUNK)
        declared = Declared("again.bin", "x/y", len(DATA), CHUNK, count)
        client_id = str(uuid.uuid4())
        known = await svc.begin_known("me", client_id, declared, digest, "10m")
        assert known.state == State.COMPLETE and known.storage_key == sent.storage_key
        assert known.filename == "again.bin" and known.expires_at == rig.clock.now() + 600
        assert known.download_token and known.download_token != sent.download_token
        assert await svc.begin_known("me", client_id, declared, digest) == known, "idempotent"
        assert await contents_row(svc, digest) == (2, "present")
        for owner, asked, size in (("stranger", digest, len(DATA)), ("me", "0" * 64, len(DATA)),
                                   ("me", digest, len(DATA) - 1)):  # fmt: skip
            other = Declared("x.bin", "x/y", size, CHUNK, count)
            with pytest.raises(errors.UploadError) as unknown:
                await svc.begin_known(owner, str(uuid.uuid4()), other, asked)
            assert unknown.value.status == 404 and unknown.value.code == "unknown_content"
        with pytest.raises(errors.UploadError) as bad:
            await svc.begin_known("me", str(uuid.uuid4()), declared, "XYZ")
        assert bad.value.status == 400
        rig.clock.advance(HOUR)  # `sent` expired: what is left is `known`'s (10 minutes, gone)
        with pytest.raises(errors.UploadError):
            await svc.begin_known("me", str(uuid.uuid4()), declared, digest)

    drive(rig, go)


def test_content_of_other_bytes_is_stored_apart(rig: Rig) -> None:
    async def go() -> None:
        svc = await rig.started()
        one, two = await chunked(svc, [0, 1, 2]), await chunked(svc, [0, 1, 2], data=other_data(7))
        assert one.storage_key != two.storage_key
        assert len(await files_held(rig, svc)) == 2
        assert one.storage_key == placed(svc, one) and two.storage_key == placed(svc, two)

    drive(rig, go)


def test_the_same_bytes_finished_at_once_by_two_processes_are_stored_once(rig: Rig) -> None:
    """Both place their copies (on S3 each under its own key): the first recorded is kept, the
    other removed, and both uploads point to the one kept."""

    async def go() -> None:
        a, b = await rig.started(), await rig.started()
        for _ in range(3):
            one, two = await asyncio.gather(chunked(a, [0, 1, 2]), chunked(b, [0, 1, 2]))
            assert one.state == two.state == State.COMPLETE
            assert one.storage_key == two.storage_key
            assert await files_held(rig, a) == [one.storage_key]
            assert one.sha256 and await contents_row(a, one.sha256) == (2, "present")
            for upload, svc in ((one, a), (two, b)):
                assert upload.download_token
                assert await svc.present(await svc.downloadable(upload.download_token))
            await a.delete(one)
            await b.delete(two)
            assert await files_held(rig, a) == []

    drive(rig, go)


def test_a_copy_that_lost_the_race_and_was_cut_short_is_removed_when_its_finish_resumes(
    rig: Rig,
) -> None:
    """Two uploads of the same bytes place their copies at once; on S3 the loser's finish is
    cut short after its copy was placed (under its own id, its marker gone) but before it
    removed it. When the sweep resumes that finish, the losing copy goes: only the winner's
    file is left (it used to stay for ever, taken for a finished file)."""

    async def go() -> None:
        a, b = await rig.started(), await rig.started()
        storage: Any = b._storage
        real_place, real_remove = storage.place, storage.remove
        entered, go_on = asyncio.Event(), asyncio.Event()
        cut: list[str] = []

        async def place_later(upload_id: str, key: str) -> str:
            entered.set()  # b has held the content as absent: a places it meanwhile
            await go_on.wait()
            return await real_place(upload_id, key)

        async def remove_cut_short(key: str) -> None:
            if not cut:
                cut.append(key)
                raise StorageUnavailable("cut short")  # stays assembling
            await real_remove(key)

        storage.place, storage.remove = place_later, remove_cut_short
        loser = asyncio.ensure_future(chunked(b, [0, 1, 2]))
        await asyncio.wait_for(entered.wait(), 60)
        winner = await chunked(a, [0, 1, 2])
        assert winner.state == State.COMPLETE
        go_on.set()
        left = await loser
        # On local disk both copies are renamed onto the content's key: nothing to remove.
        assert bool(cut) == (b.local_files is None)
        if cut:
            assert left.state == State.ASSEMBLING, "the loser's finish was cut short"
            await b.finisher.sweep()
        done = await b.refresh(left)
        assert done.state == State.COMPLETE
        assert done.storage_key == winner.storage_key == placed(a, winner)
        assert await files_held(rig, a) == [placed(a, winner)]

    drive(rig, go)

"""A finished upload's share page, `/s/<token>`, and its uploader's delete link.

The share page shows the file's name, size, SHA-256, expiry and downloads left, a download
button, the password form where its uploader set a password (POST from this very origin; a right
password sets the download cookie, web/unlock.py), and a QR code of the page's own link (an SVG
made here with segno: no script, no request elsewhere). Every value from the upload is escaped,
so a hostile file name is text. Its labels come from static/text.js, in the browser's language.

The delete link, `/s/<token>/delete?key=<delete key>`, is shown only to the uploader (their JSON
view of the upload). GET shows a page asking to confirm; POST (same origin, the key in the form)
removes the upload as the page's cancel does. The key is compared in constant time; a wrong one
is 403.
"""

from __future__ import annotations

import html
import secrets
from pathlib import Path
from string import Template

import segno
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from pyfiledrop import errors
from pyfiledrop.config import Settings
from pyfiledrop.core.model import Upload
from pyfiledrop.core.service import UploadService
from pyfiledrop.core.sharing import downloads_left
from pyfiledrop.logs import note_refusal
from pyfiledrop.web.access import small_form
from pyfiledrop.web.admin import same_origin
from pyfiledrop.web.downloads import Downloads
from pyfiledrop.web.page import page_headers
from pyfiledrop.web.unlock import COOKIE

TEMPLATE = Path(__file__).parent / "templates" / "share.html"
_GONE = {404: "shareNotFound", 410: "shareGone", 403: "downloadsOffShare"}


class Sharing:
    """The share page and the delete link of finished uploads."""

    def __init__(self, settings: Settings, service: UploadService, downloads: Downloads) -> None:
        self.settings = settings
        self.service = service
        self.downloads = downloads
        self.passwords = downloads.passwords
        self.headers = {**page_headers(settings), "Cache-Control": "no-store"}

    def routes(self) -> list[Route]:
        return [
            Route("/s/{token}", self._page, name="share"),
            Route("/s/{token}", self._unlock, methods=["POST"]),
            Route("/s/{token}/delete", self._confirm, name="delete"),
            Route("/s/{token}/delete", self._delete, methods=["POST"]),
        ]

    # --- the share page -------------------------------------------------------------------------

    async def _page(self, request: Request) -> Response:
        try:
            upload = await self._shared(request)
        except errors.UploadError as exc:
            return self._render(request, _message(_GONE.get(exc.status, "shareGone")), exc.status)
        unlocked = upload.download_password is None or self.passwords.cookie_ok(
            upload, request.cookies.get(COOKIE, "")
        )
        return self._render(request, self._facts(request, upload, unlocked, None), 200)

    async def _unlock(self, request: Request) -> Response:
        """The password form: back to the page with the download cookie, or the form again
        saying why not (401, or 429 after too many wrong passwords)."""
        if not same_origin(request, self.settings.public_url):
            return self._render(request, _message("crossSite"), 403)
        upload = await self._shared(request)
        if upload.download_password is None:
            return RedirectResponse(self._share_url(request, upload), 303)
        given = (await small_form(request)).get("password", "")
        try:
            right = await self.passwords.try_password(request, upload, given)
        except errors.UploadError as exc:  # too many tries
            page = self._facts(request, upload, False, "tooManyTries")
            refused = self._render(request, page, exc.status)
            refused.headers["Retry-After"] = str(self.passwords.retry_after(request))
            return refused
        if not right:
            return self._render(request, self._facts(request, upload, False, "wrongPassword"), 401)
        response = RedirectResponse(self._share_url(request, upload), 303)
        for cookie in self.passwords.cookies(request, upload):
            response.headers.append("Set-Cookie", cookie)
        return response

    async def _shared(self, request: Request) -> Upload:
        if not self.settings.allow_downloads:
            raise errors.DOWNLOADS_DISABLED("Downloads are turned off on this server.")
        return await self.service.downloadable(request.path_params["token"])

    def _facts(self, request: Request, upload: Upload, unlocked: bool, why: str | None) -> str:
        """The page's body for a downloadable upload."""
        assert upload.download_token is not None
        token = html.escape(upload.download_token)
        left = downloads_left(upload)
        rows = [
            ("shareSize", f'<span data-size="{upload.size}">{upload.size}</span>'),
            ("shareHash", f"<code>{html.escape(upload.sha256 or '')}</code>"),
            ("shareExpires", _expiry(upload.expires_at)),
            ("shareLeft", _left(left)),
        ]
        facts = "".join(f'<dt data-text="{label}"></dt><dd>{value}</dd>' for label, value in rows)
        if unlocked:
            action = f'<a class="button" href="download/{token}" data-text="downloadFile"></a>'
        else:
            refusal = f'<p class="refusal" role="alert" data-text="{why}"></p>' if why else ""
            action = (
                '<p data-text="sharePasswordNeeded"></p>'
                f'<form method="post" action="s/{token}" class="sign-in"><label>'
                '<span data-text="password"></span> <input type="password" name="password" '
                'autocomplete="off" required autofocus></label> '
                f'<button type="submit" data-text="unlock"></button></form>{refusal}'
            )
        link = self._share_url(request, upload)
        qr = segno.make(link, error="m").svg_inline(scale=4, border=2, dark="#000", light="#fff")
        return (
            f'<h2 class="shared-name">{html.escape(upload.filename)}</h2>'
            f'<dl class="facts">{facts}</dl>{action}'
            f'<figure class="qr">{qr}<figcaption><span data-text="shareQr"></span> '
            f"<code>{html.escape(link)}</code></figcaption></figure>"
        )

    def _share_url(self, request: Request, upload: Upload) -> str:
        assert upload.download_token is not None
        return self.downloads.link(request, "share", token=upload.download_token)

    def _render(self, request: Request, body: str, status: int) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = Template(TEMPLATE.read_text()).substitute(base=html.escape(root + "/"), body=body)
        return HTMLResponse(page, status, headers=self.headers)

    # --- the delete link ------------------------------------------------------------------------

    async def _confirm(self, request: Request) -> Response:
        upload, refusal = await self._deletable(request, request.query_params.get("key", ""))
        if refusal is not None:
            return refusal
        assert upload is not None and upload.delete_key is not None
        key = html.escape(upload.delete_key)
        body = (
            f'<h2 class="shared-name">{html.escape(upload.filename)}</h2>'
            '<p data-text="deleteQuestion"></p>'
            f'<form method="post" action="s/{html.escape(upload.download_token or "")}/delete">'
            f'<input type="hidden" name="key" value="{key}">'
            '<button type="submit" class="danger" data-text="deleteForGood"></button></form>'
        )
        return self._render(request, body, 200)

    async def _delete(self, request: Request) -> Response:
        if not same_origin(request, self.settings.public_url):
            return self._render(request, _message("crossSite"), 403)
        upload, refusal = await self._deletable(request, (await small_form(request)).get("key", ""))
        if refusal is not None:
            return refusal
        assert upload is not None
        await self.service.delete(upload)
        return self._render(request, _message("deletedShare"), 200)

    async def _deletable(self, request: Request, key: str) -> tuple[Upload | None, Response | None]:
        """The upload the link names when `key` is its delete key; else the page saying why."""
        try:
            upload = await self.service.downloadable(request.path_params["token"])
        except errors.UploadError as exc:
            gone = _message(_GONE.get(exc.status, "shareGone"))
            return None, self._render(request, gone, exc.status)
        expected = (upload.delete_key or "").encode()
        if not expected or not secrets.compare_digest(key.encode(), expected):
            note_refusal(errors.WRONG_DELETE_KEY("This delete link's key is wrong."))
            return None, self._render(request, _message("wrongDeleteKey"), 403)
        return upload, None


def _message(key: str) -> str:
    return f'<p class="shared-message" data-text="{key}"></p>'


def _expiry(expires_at: float | None) -> str:
    if expires_at is None:
        return '<span data-text="keptForever"></span>'
    return f'<time data-time="{expires_at:.0f}">{expires_at:.0f}</time>'


def _left(left: int | None) -> str:
    if left is None:
        return '<span data-text="noLimit"></span>'
    return f'<span data-count="{left}">{left}</span>'

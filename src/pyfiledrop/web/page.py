"""The upload page: the template filled from settings, Dropzone served locally or from a CDN.

The page's texts are not here: static/text.js holds them all, in every language, and the page
fills them in from the settings in its config block."""

from __future__ import annotations

import html
import json
from functools import cache, lru_cache
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from pyfiledrop.config import DEFAULT_CDN, DROPZONE_VERSION, Settings
from pyfiledrop.core.lifetimes import format_duration

TEMPLATE = Path(__file__).parent / "templates" / "index.html"
SIGN_IN = Path(__file__).parent / "templates" / "sign-in.html"
LOCAL_DROPZONE = "static/vendor/dropzone"  # relative to the page's <base>: its sub-path
PARALLEL_CHUNK_LIMIT = 6  # what a browser opens to one host over HTTP/1.1
NAME_FIELD = """<label><span data-text="{text}"></span>
        <input type="text" name="name" autocomplete="username" autofocus{required}></label>
      """  # the sign-in form's, when there are accounts


def dropzone_urls(settings: Settings) -> tuple[str, list[str]]:
    """The script and stylesheets: the vendored copy unless --dz-cdn/--dz-version ask for a CDN.

    Dropzone 6 dropped the `min/` folder and renamed its files, so the CDN layout follows the major.
    """
    if settings.dz_cdn is None and settings.dz_version is None:
        base = LOCAL_DROPZONE
        return f"{base}/dropzone-min.js", [f"{base}/dropzone.css"]
    base = (
        f"{(settings.dz_cdn or DEFAULT_CDN).rstrip('/')}/{settings.dz_version or DROPZONE_VERSION}"
    )
    if (settings.dz_version or DROPZONE_VERSION).split(".")[0] in ("4", "5"):
        return f"{base}/min/dropzone.min.js", [f"{base}/min/dropzone.min.css"]
    return f"{base}/dropzone-min.js", [f"{base}/dropzone.css"]


@lru_cache(maxsize=256)  # per sub-path (--root-path, or trusted proxies' prefixes) and account
def render_page(
    settings: Settings, root_path: str, guarded: bool = False, account: str | None = None
) -> str:
    """The page's HTML: where Dropzone comes from, and the settings the page needs as JSON.

    `guarded`: uploads need credentials (and the browser has them); `account`: the account it
    signed in with. Every URL in the page and its scripts is relative, resolved against `<base
    href>`: the app's sub-path (`root_path`, already checked to be a plain path) and a slash."""
    script, styles = dropzone_urls(settings)
    config = {
        "chunkSize": settings.chunk_size,
        "maxFilesize": settings.max_size_mib,
        "timeout": settings.timeout_ms,
        "forceChunking": settings.force_chunking,
        "parallelChunks": settings.parallel_chunks,
        "parallelChunkLimit": PARALLEL_CHUNK_LIMIT,
        "allowDownloads": settings.allow_downloads,
        "expire": settings.expire or None,  # seconds a file is kept at most; None: for ever
        "expireText": format_duration(settings.expire) if settings.expire else None,
        "passwordRequired": guarded,
        "account": account,
    }
    return Template(TEMPLATE.read_text()).substitute(
        stylesheets="\n  ".join(f'<link rel="stylesheet" href="{html.escape(s)}">' for s in styles),
        dropzone_js=html.escape(script),
        base=html.escape(root_path + "/"),
        config=json.dumps(config).replace("<", "\\u003c"),
        downloads_hidden="hidden" if settings.allow_downloads else "",
    )


def render_sign_in(
    root_path: str,
    refusal: str | None,
    under: str = "",
    needed: str = "signInNeeded",
    names: bool = False,
    shared: bool = True,
) -> str:
    """The page asking for a password; `refusal` names the text of why the last try failed (a
    key of static/text.js), if one did. The form posts to `under`/sign-in (relative to the
    app's sub-path); `needed` is the text saying which password it is. With `names` (there are
    accounts) it asks for a name too, which may stay empty when the `shared` password is set."""
    return Template(SIGN_IN.read_text()).substitute(
        base=html.escape(root_path + "/"),
        action=html.escape(f"{under}/sign-in" if under else "sign-in"),
        needed=html.escape(needed),
        refusal=refusal or "",
        refusal_hidden="" if refusal else "hidden",
        name_field=NAME_FIELD.format(
            text="nameOrEmpty" if shared else "accountName", required="" if shared else " required"
        )
        if names
        else "",
        password_focus="" if names else "autofocus",
    )


@cache
def page_headers(settings: Settings) -> dict[str, str]:
    """A Content-Security-Policy the page works under (its scripts and styles from here or the
    Dropzone CDN, no inline code; the config block is JSON data, which no policy blocks), and no
    framing by other sites."""
    script, _ = dropzone_urls(settings)
    parts = urlsplit(script)
    cdn = f" {parts.scheme}://{parts.netloc}" if parts.netloc else ""
    policy = (
        f"default-src 'none'; script-src 'self'{cdn}; style-src 'self'{cdn}; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'self'; "
        "frame-ancestors 'none'"
    )
    return {"Content-Security-Policy": policy, "X-Frame-Options": "DENY"}

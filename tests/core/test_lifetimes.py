"""Durations as people write them, and the life an upload is given within the server's limit."""

from __future__ import annotations

import pytest

from pyfiledrop import errors
from pyfiledrop.core.lifetimes import Lifetimes, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("12h", 43200), ("7d", 604800), ("0", 0), (" 2h ", 7200)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "7", "1w", "h", "1.5h", "-1h", "1h30m", "0x", "soon", "1 h"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="30s, 15m, 12h, 7d or 0"):
        parse_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [(604800, "7d"), (129600, "36h"), (90, "90s")])
def test_durations_are_written_in_the_largest_whole_unit(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_an_upload_gets_the_life_asked_for_within_the_limit() -> None:
    limited = Lifetimes(max_life=86400)
    assert limited.life_for(None) == 86400 and limited.life_for("") == 86400
    assert limited.life_for("1h") == 3600 and limited.life_for("1d") == 86400
    for asked, reason in (("2d", "longer"), ("0", "longer"), ("a while", "not a duration")):
        with pytest.raises(errors.UploadError) as refused:
            limited.life_for(asked)
        assert refused.value.status == 400
        assert reason in refused.value.message and "at most 1d" in refused.value.message
    keeping = Lifetimes()
    assert keeping.life_for(None) is None and keeping.life_for("0") is None
    assert keeping.life_for("3650d") == 3650 * 86400

"""Embedding in a course page: KERNEL_LENS_FRAME_ANCESTORS, checked over real HTTP and at start-up."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from app.config import Settings
from tests.app.conftest import live_server

PATHS = ("/", "/docs", "/static/js/api.js", "/api/samples", "/api/runs/000000000000000000000000/result.png")


def get(url: str, timeout: float = 60, **options: Any) -> httpx.Response:
    """httpx.get with room for a busy machine (its default 5 s read timeout is not enough at a load of 25)."""
    return httpx.get(url, timeout=timeout, **options)


def frame_ancestors_of(csp: str) -> str:
    """The frame-ancestors directive's sources."""
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    return directives["frame-ancestors"]


def test_by_default_no_page_may_frame_it() -> None:
    with live_server(Settings()) as base:
        for path in PATHS:
            response = get(base + path)
            assert frame_ancestors_of(response.headers["content-security-policy"]) == "'none'", path
            assert response.headers["x-frame-options"] == "DENY", path


def test_allowed_ancestors_are_named_in_the_csp_and_x_frame_options_is_dropped() -> None:
    settings = Settings(frame_ancestors=["'self'", "https://lms.example.edu/", "https://*.moodle.example.org:8443"])
    with live_server(settings) as base:
        for path in PATHS:
            response = get(base + path)
            csp = response.headers["content-security-policy"]
            assert frame_ancestors_of(csp) == "'self' https://lms.example.edu https://*.moodle.example.org:8443", path
            assert "x-frame-options" not in response.headers, path  # DENY would override the CSP in old browsers
            assert "script-src 'self'" in csp and "base-uri 'self'" in csp  # the rest of the policy is unchanged
            assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(("text", "expected"), [
    ("https://lms.example.edu", ["https://lms.example.edu"]),
    ("'self' https://a.example.edu, http://localhost:8080", ["'self'", "https://a.example.edu",
                                                             "http://localhost:8080"]),
    ('["https://a.example.edu", "self"]', ["https://a.example.edu", "'self'"]),
    ("'none'", []),
    ("", []),
])
def test_the_environment_variable_takes_words_or_json(monkeypatch: pytest.MonkeyPatch, text: str,
                                                      expected: list[str]) -> None:
    monkeypatch.setenv("KERNEL_LENS_FRAME_ANCESTORS", text)
    assert Settings().frame_ancestors == expected


@pytest.mark.parametrize("junk", ["lms.example.edu", "javascript:alert(1)", "https://lms.example.edu/course/1",
                                  "https://lms.example.edu?x=1", "*", "ftp://files.example.edu", "https://a b",
                                  "https://user@lms.example.edu", "'unsafe-inline'", "https://x.example:99999"])
def test_junk_is_refused_naming_what_is_allowed(junk: str) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(frame_ancestors=[junk])
    message = str(refused.value)
    assert "each frame ancestor must be 'self' or an origin such as https://lms.example.edu" in message
    assert repr(junk[:100]) in message


def test_junk_stops_the_server_at_start_up_with_one_clear_line() -> None:
    env = {**os.environ, "KERNEL_LENS_FRAME_ANCESTORS": "https://lms.example.edu/course/1"}
    done = subprocess.run([sys.executable, "-m", "app.cli", "serve", "--port", "1"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert ("KERNEL_LENS_FRAME_ANCESTORS: each frame ancestor must be 'self' or an origin such as "
            "https://lms.example.edu") in done.stderr
    assert "'https://lms.example.edu/course/1'" in done.stderr

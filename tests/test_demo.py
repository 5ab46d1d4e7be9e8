"""`make demo` as a newcomer runs it: offline, and it says where the digests are."""

from __future__ import annotations

import email
import email.policy
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_demo_writes_digests_to_open(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor.demo",
            "--folder",
            str(folder),
            "--watchlists",
            str(ROOT / "watchlists"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Polled: 29 new articles" in result.stdout
    assert "Digests written: 4" in result.stdout
    emls = sorted((folder / "outbox").glob("*.eml"))
    assert [p.name.split("-", 1)[1] for p in emls] == [
        "alabuga-analyst@example.org.eml",
        "central-asian-migrants-analyst@example.org.eml",
        "foreign-recruitment-analyst@example.org.eml",
        "mercenary-prosecutions-analyst@example.org.eml",
    ]
    for eml in emls:
        assert str(eml.with_suffix(".html")) in result.stdout
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        assert message["To"] == "analyst@example.org"
        html = eml.with_suffix(".html").read_text(encoding="utf-8")
        assert "<script" not in html.lower() and "demo.news-monitor.invalid" in html

"""The digest's HTML in a real headless browser (Debian's chromium, installed by .ci/run):
the page renders, the chart image loads, themes and quotes are visible, the screenshot is
not blank, and the page loads nothing from outside (its Content-Security-Policy)."""

import shutil
import subprocess
from collections import Counter
from datetime import timedelta

import pytest

from bot.features.digest import service
from bot.features.digest.chart import trend_png
from bot.features.digest.formats import render_html
from tests.features.digest.seed import END, decided, said

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)"),
    pytest.mark.parametrize("db_url", ["sqlite"], indirect=True),  # the page, not the database, is under test
]
D = timedelta(days=1)
RECEIVED_BLUE, IGNORED_RED = (0x12, 0x64, 0xA3), (0xE0, 0x1E, 0x5A)  # chart.py's bar colours


def browser(*args: str, page) -> subprocess.CompletedProcess:
    profile = page.parent / "chromium-profile"  # its own: no home directory needed, nothing shared
    return subprocess.run(
        [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--disable-extensions", f"--user-data-dir={profile}", "--window-size=1000,2600", *args, page.as_uri()],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture
def page(session, make_workspace, tmp_path):
    workspace = make_workspace("T0ACME001", name="Acme Robotics", domain="acme")
    quotes = ["Invoice PDF export is missing the totals", "Invoice PDF export missing totals again",
              "The invoice PDF export lost its totals", "Mobile app crashes at login",
              "Mobile app crash at login screen", "The mobile app crashed at login"]  # fmt: skip
    for week in range(12):
        for n in range(3 + week % 4):
            said(session, workspace.id, quotes[(week + n) % 6], END - (80 - 7 * week - n % 5) * D,
                 channel="C0FEEDBACK", ts=f"17950{week:02d}{n:03d}.000100",
                 acked_after=timedelta(hours=5) if n % 3 == 0 else None)  # fmt: skip
    fixed = said(session, workspace.id, "Invoice PDF totals missing for Contoso", END - 9 * D, acked_after=D)
    decided(session, workspace.id, "Billing", "Totals are computed before the PDF renders", END - 8 * D, [fixed])
    session.commit()
    digest = service.build_digest(session, workspace.id, end=END)
    path = tmp_path / "digest.html"
    path.write_text(render_html(digest, trend_png(digest.trend)), encoding="utf-8")
    return path, digest


def test_the_digest_page_renders_its_chart_themes_and_quotes(page, tmp_path):
    from PIL import Image

    path, digest = page
    dumped = browser("--dump-dom", page=path)
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = dumped.stdout
    assert "<title>Leadership digest · Acme Robotics" in dom
    assert all(theme.label in dom for theme in digest.themes) and len(digest.themes) >= 2
    assert all(quote.excerpt in dom for theme in digest.themes for quote in theme.quotes)
    assert "Billing</b> decided “Totals are computed before the PDF renders”" in dom
    assert 'id="trend"' in dom and 'src="data:image/png;base64,' in dom
    assert "http://" not in dom.replace("http://www.w3.org", "") and 'src="http' not in dom

    shot = tmp_path / "shot.png"
    taken = browser(f"--screenshot={shot}", page=path)
    assert taken.returncode == 0 and shot.exists(), taken.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    colours = Counter(image.get_flattened_data() if hasattr(image, "get_flattened_data") else image.getdata())
    assert len(colours) > 50, "the screenshot is blank"
    white = sum(n for c, n in colours.items() if min(c) > 245)
    assert white < 0.95 * image.width * image.height

    def near(target):
        return sum(n for c, n in colours.items() if all(abs(a - b) <= 12 for a, b in zip(c, target, strict=True)))

    # The chart image loaded and was drawn: its bars are the only large areas of these colours.
    assert near(RECEIVED_BLUE) > 2000 and near(IGNORED_RED) > 500

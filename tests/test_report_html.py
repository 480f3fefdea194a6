"""index.html as a reader sees it, in headless Chromium (Debian's chromium package)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Route, sync_playwright

from etl import report
from tests.conftest import require_sysdep
from tests.test_report_estate import (
    AKS_DEV_ERROR,
    EXPECTED_WORKLISTS,
    INJECTED_TAG,
    NAME_BY_DIGEST,
    build_estate,
)

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wh = build_estate(tmp_path_factory.mktemp("estate") / "estate.duckdb")
    try:
        out = tmp_path_factory.mktemp("out")
        report.write_reports(wh, out)
    finally:
        wh.close()
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = require_sysdep("chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class Visit:
    """One page load of the report, recording every request the page makes."""

    def __init__(self, browser: Browser, path: Path) -> None:
        self.url = path.as_uri()
        self.requests: list[str] = []
        self.console_errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1400, "height": 900})
        self.page.route("**/*", self._route)
        self.page.on("console", self._console)
        self.page.goto(self.url)

    def _route(self, route: Route) -> None:
        url = route.request.url
        self.requests.append(url)
        if url == self.url:
            route.continue_()
        else:
            route.abort()

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)


@pytest.fixture(scope="module")
def visit(browser: Browser, out_dir: Path) -> Iterator[Visit]:
    """One load of the page shared by the read-only tests."""
    seen = Visit(browser, out_dir / "index.html")
    yield seen
    seen.page.close()


def test_title_and_coverage_numbers(visit: Visit) -> None:
    page = visit.page
    assert page.title() == report.TITLE
    tiles = {
        tile: page.inner_text(f"#tile-{tile} b")
        for tile in ("images", "mapped", "ambiguous", "unmapped", "runs", "pushes")
    }
    assert tiles == {
        "images": "9",
        "mapped": "7",
        "ambiguous": "1",
        "unmapped": "1",
        "runs": "7",
        "pushes": "9",
    }
    total = page.locator("#coverage-by-registry tfoot td").all_inner_texts()
    assert total[:5] == ["All registries", "9", "7 (78%)", "1", "1"]


def test_owner_section_lists_images_worst_first(visit: Visit) -> None:
    page = visit.page
    owners = page.locator("section.owner h3").evaluate_all(
        "hs => hs.map(h => h.firstChild.textContent)"
    )
    # Owners with vulnerable images running exposed come first.
    assert owners == [
        "@contoso/payments-oncall",
        "unowned",
        "legacy-team",
        "ann@contoso.example",
    ]
    for slug, expected in EXPECTED_WORKLISTS.items():
        digests = page.locator(f'[id="owner-{slug}"] tr.item').evaluate_all(
            "rows => rows.map(r => r.dataset.digest)"
        )
        assert [NAME_BY_DIGEST[d] for d in digests] == expected


def test_item_shows_where_it_runs_the_run_link_commit_evidence_owner(
    visit: Visit,
) -> None:
    row = visit.page.locator("#owner-contoso-payments-oncall tr.item").first
    cells = row.locator(":scope > td").all_inner_texts()
    assert "C 2" in cells[0] and "1 of 2 fixable" in cells[0]
    assert "exposed: load-balancer" in cells[2]
    assert "aks-prod/payments/Deployment/api" in cells[2]
    link = row.locator("a.run")
    assert link.inner_text() == ".github/workflows/api-ci.yml #413"
    assert (
        link.get_attribute("href")
        == "https://github.com/contoso/payments-api/actions/runs/9002"
    )
    assert "commit 77aa9c1" in cells[3]
    assert cells[4].startswith("log-digest 0.95\nlog build line 40: 1.5.0: digest:")
    assert cells[5].startswith("override @contoso/payments-oncall, because")


def test_a_non_web_run_url_is_not_a_link(visit: Visit) -> None:
    hrefs = visit.page.locator("a[href]").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    assert all(h.startswith(("#", "https://")) for h in hrefs)
    assert visit.page.locator("text=worker-ci #20240502.4").count() == 1


def test_unmapped_and_ambiguous_sections_give_reason_and_fix(visit: Visit) -> None:
    page = visit.page
    unmapped = page.locator("#unmapped-table tr.item").all_inner_texts()
    assert len(unmapped) == 1
    assert "contosoacr.azurecr.io/legacy/tool" in unmapped[0]
    assert "it was pushed by hand" in unmapped[0]
    assert "build and push it from a pipeline imagetrail reads" in unmapped[0]
    candidates = page.locator("#ambiguous-table tr.item a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    assert candidates == [
        "https://github.com/contoso/web/actions/runs/5001",
        "https://github.com/contoso/web/actions/runs/5002",
    ]


def test_failed_source_is_shown_prominently(visit: Visit) -> None:
    alert = visit.page.locator("#failed-sources")
    assert alert.is_visible()
    text = alert.inner_text()
    assert "previous data kept" in text
    assert AKS_DEV_ERROR in text
    assert "aks-dev" in text


def test_upstream_markup_is_shown_as_text_and_never_runs(visit: Visit) -> None:
    page = visit.page
    assert page.evaluate("() => window.__pwned") is None
    tags = page.locator("#owner-contoso-payments-oncall tr.item .tags").first
    assert tags.inner_text() == f"tags: 1.5.0, {INJECTED_TAG}"
    assert page.locator("body script").count() == 1
    evidence = page.locator("td.evidence code").all_inner_texts()
    assert any('"quoted" <b>bold</b>' in e for e in evidence)
    assert page.locator("td.evidence b").count() == 0


def test_page_makes_no_network_request(visit: Visit) -> None:
    visit.page.wait_for_load_state("load")
    assert visit.requests == [visit.url]
    assert visit.console_errors == []


def test_filter_hides_rows_that_do_not_match(browser: Browser, out_dir: Path) -> None:
    page = Visit(browser, out_dir / "index.html").page
    page.fill(".filter input", "CVE-2024-0005")
    visible = page.locator("table.worklist tr.item:visible").evaluate_all(
        "rows => rows.map(r => r.dataset.digest)"
    )
    assert [NAME_BY_DIGEST[d] for d in visible] == ["checkout-e"]
    page.close()

"""The HTML reports in a real browser (headless Chromium): they load without errors, every image
decodes, and the page fits the viewport. A screenshot of each is kept as an artefact.

Needs Chromium or Chrome (``.ci/run`` installs Debian's ``chromium``); without one the tests are
skipped with that reason. ``$STYLEGAN_EVAL_BROWSER`` names a browser binary explicitly;
``$STYLEGAN_EVAL_ARTIFACTS`` is a folder that receives the screenshots.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from stylegan_eval import plots
from stylegan_eval.cli import main
from stylegan_eval.demo import default_checkpoint

VIEWPORT = (1280, 900)
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
MARKER = "__stylegan_eval_browser_check__"

#: Injected first into <head>: records errors (script errors, failed resources, console.error),
#: then after the load event writes what it measured into the DOM, which --dump-dom prints.
PROBE = """<script>
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    if (t && t !== window && (t.src || t.href)) errors.push('failed to load ' + String(t.src || t.href).slice(0, 120));
    else errors.push('script error: ' + e.message);
  }, true);
  window.addEventListener('unhandledrejection', function (e) { errors.push('unhandled rejection: ' + e.reason); });
  var consoleError = console.error;
  console.error = function () { errors.push('console.error: ' + Array.prototype.join.call(arguments, ' ')); consoleError.apply(console, arguments); };
  window.addEventListener('load', function () {
    setTimeout(function () {
      var images = Array.prototype.map.call(document.images, function (i) {
        var r = i.getBoundingClientRect();
        return {src: String(i.currentSrc || i.src).slice(0, 60), alt: i.alt, complete: i.complete,
                naturalWidth: i.naturalWidth, naturalHeight: i.naturalHeight,
                left: Math.round(r.left), top: Math.round(r.top), width: Math.round(r.width)};
      });
      // Header cells of the first table: visible when they end inside the window and inside
      // their scrolling box (a cell past the box's right edge needs a horizontal scroll).
      var first = document.querySelector('table');
      var headers = first ? Array.prototype.map.call(first.querySelectorAll('th'), function (th) {
        var r = th.getBoundingClientRect(), box = th.closest('.scroll') || document.body;
        var limit = Math.min(window.innerWidth, box.getBoundingClientRect().right);
        return {text: th.textContent.trim(), right: Math.round(r.right), visible: r.right <= limit + 0.5};
      }) : [];
      var wide = [];
      Array.prototype.forEach.call(document.body.querySelectorAll('*'), function (el) {
        var r = el.getBoundingClientRect();
        if (r.right > window.innerWidth + 0.5 && !(el.parentElement && el.parentElement.getBoundingClientRect().right > window.innerWidth + 0.5))
          wide.push(el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') + ' right=' + Math.round(r.right));
      });
      var result = {errors: errors, images: images, headers: headers, title: document.title, overflowing: wide.slice(0, 10),
                    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth};
      var pre = document.createElement('pre');
      pre.id = '__MARKER__';
      pre.textContent = JSON.stringify(result);
      document.body.appendChild(pre);
    }, 50);
  });
})();
</script>""".replace("__MARKER__", MARKER)


def find_browser() -> str | None:
    explicit = os.environ.get("STYLEGAN_EVAL_BROWSER")
    if explicit:
        return explicit
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


BROWSER = find_browser()
# The compare page and the probe's self-test run by default; the demo report (a whole demo
# run first) is the slow case.
pytestmark = [
    pytest.mark.skipif(
        BROWSER is None, reason="no Chromium/Chrome found (apt-get install chromium; .ci/run installs it)"
    ),
]


def _chromium(url: str, profile: Path, *args: str, height: int = VIEWPORT[1]) -> subprocess.CompletedProcess:
    cmd = [
        BROWSER,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        f"--window-size={VIEWPORT[0]},{height}",
        "--virtual-time-budget=10000",
        *args,
        url,
    ]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)


def inspect(html: Path, workdir: Path, screenshot: bool = True) -> dict:
    """Load ``html`` with the probe injected; returns the probe's measurements (and saves a screenshot)."""
    text = html.read_text(encoding="utf-8")
    probed = workdir / f"probed-{html.name}"
    head = re.search(r"<head[^>]*>", text, flags=re.IGNORECASE)
    probed.write_text(text[: head.end()] + PROBE + text[head.end() :] if head else PROBE + text, encoding="utf-8")
    proc = _chromium(probed.as_uri(), workdir / "profile", "--dump-dom")
    found = re.search(rf'<pre id="{MARKER}">(.*?)</pre>', proc.stdout, flags=re.DOTALL)
    assert found, f"the page did not finish loading in {BROWSER} (rc {proc.returncode}): {proc.stderr[-2000:]}"
    import html as html_lib

    result = json.loads(html_lib.unescape(found.group(1)))
    if not screenshot:
        return result
    shot = workdir / f"{html.stem}.png"
    _chromium(html.as_uri(), workdir / "profile", f"--screenshot={shot}", height=2400)
    result["screenshot"] = str(shot) if shot.is_file() else None
    artefacts = os.environ.get("STYLEGAN_EVAL_ARTIFACTS")
    if artefacts and shot.is_file():
        Path(artefacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artefacts) / f"browser-{html.stem}.png")
    return result


def _run(*argv) -> None:
    code = main([str(a) for a in argv])
    assert code == 0, f"stylegan-eval {' '.join(map(str, argv))} exited with {code}"


@pytest.fixture(scope="module")
def compare_page(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("browser_compare")
    other = tmp / "demo-copy.pt"
    shutil.copy(default_checkpoint(), other)
    out = tmp / "report"
    _run(
        "--no-config",
        "compare",
        default_checkpoint(),
        other,
        "--metrics",
        "ppl_wend",
        "--num-samples",
        "4",
        "--allow-random-weights",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        out,
    )
    return inspect(out / "compare.html", tmp)


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser_demo") / "demo-report"
    _run(
        "--no-config",
        "demo",
        "--num-samples",
        "4",
        "--fid-samples",
        "4",
        "--separability-samples",
        "8",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        out,
    )
    return out


ALL = ("*",)


def _check(page: dict, headline: tuple[str, ...] = ()) -> None:
    """No error, every image decodes, a screenshot, no horizontal scroll, every ``headline`` column visible."""
    assert page["errors"] == [], page["errors"]
    broken = [i for i in page["images"] if not (i["complete"] and i["naturalWidth"] > 0)]
    assert broken == [], f"images that do not decode: {broken}"
    assert page["screenshot"] is not None
    assert page["scrollWidth"] <= page["innerWidth"], page["overflowing"]
    shown = {h["text"]: h["visible"] for h in page["headers"]}
    if headline == ALL:  # a wide summary (one column per metric): every column is a headline
        headline = tuple(shown)
    missing = [c for c in headline if not shown.get(c)]
    assert not missing, f"headline columns hidden or absent at {VIEWPORT[0]} px: {missing} ({page['headers']})"


def test_compare_report_loads_and_every_image_decodes(compare_page):
    _check(compare_page)
    assert compare_page["title"].startswith("stylegan-eval compare")


def test_compare_report_fits_the_viewport(compare_page):
    assert compare_page["innerWidth"] == VIEWPORT[0]
    assert compare_page["scrollWidth"] <= compare_page["innerWidth"], compare_page["overflowing"]


def test_compare_report_shows_sample_grids(compare_page):
    grids = [i for i in compare_page["images"] if "sample" in i["alt"].lower() or "grid" in i["alt"].lower()]
    assert grids and all(i["naturalWidth"] >= 512 for i in grids), compare_page["images"]


def test_compare_report_headline_columns_and_checkpoints_side_by_side(compare_page):
    _check(compare_page, ALL)
    assert [h["text"] for h in compare_page["headers"]][:1] == ["checkpoint"]
    first, second = [i for i in compare_page["images"] if i["alt"] in ("samples_0", "samples_1")]
    assert first["top"] == second["top"] and second["left"] >= first["left"] + first["width"], compare_page["images"]


@pytest.mark.slow
def test_demo_report_in_browser(demo_out, tmp_path):
    pages = sorted(demo_out.glob("*.html"))
    assert pages, f"no HTML report in {demo_out}: {sorted(p.name for p in demo_out.iterdir())}"
    for html in pages:
        page = inspect(html, tmp_path)
        _check(page, ("section", "metric", "value", "ci95_low", "ci95_high"))
        assert page["images"], "the demo report shows no images"


#: Each single-metric page and calc: the command line (after the checkpoint) and the columns that must show.
PAGES = {
    "ppl": (("ppl", "demo", "--space", "w", "--num-samples", "8", "--allow-random-weights"), plots.HEADLINE["ppl"]),
    "separability": (
        ("separability", "demo", "--attr", "shape", "--attr", "position", "--num-samples", "128", "--svm", "fast"),
        plots.HEADLINE["separability"],
    ),
    "calc": (
        ("calc", "demo", "--metrics", "ppl_zend,ppl_wend", "--num-samples", "8", "--allow-random-weights"),
        ALL,
    ),
    "fid": (("fid", "demo", "--num-gen", "8", "--kid", "--allow-random-weights"), plots.HEADLINE["fid"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(PAGES))
def test_metric_page_in_browser(command, tmp_path):
    argv, headline = PAGES[command]
    out = tmp_path / "report"
    extra: tuple = ()
    if command == "fid":
        import torch

        from stylegan_eval.demo import shapes
        from stylegan_eval.imageops import save_png, to_uint8

        real = tmp_path / "real"
        real.mkdir()
        for i, image in enumerate(to_uint8(shapes.render(0, torch.arange(8))[0])):
            save_png(image.permute(1, 2, 0), real / f"{i}.png")
        extra = ("--data", real)
    _run("--no-config", *argv, *extra, "--device", "cpu", "--quiet", "--out", out)
    page = inspect(out / f"{command}.html", tmp_path)
    _check(page, headline)
    assert page["images"], f"{command}.html shows no images"
    assert page["title"].startswith(f"stylegan-eval {command}"), page["title"]


def test_probe_catches_broken_images_errors_and_overflow(tmp_path):
    """The checks can fail: a page with a broken image, a script error and a too-wide element."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><title>bad</title></head><body>"
        "<img alt='x' src='data:image/png;base64,AAAA'><div style='width:3000px'>wide</div>"
        "<script>console.error('boom'); undefinedFunction();</script></body></html>"
    )
    page = inspect(bad, tmp_path, screenshot=False)
    assert any("boom" in e for e in page["errors"]) and any("undefinedFunction" in e for e in page["errors"])
    assert any("failed to load" in e for e in page["errors"])
    assert [i["naturalWidth"] for i in page["images"]] == [0]
    assert page["scrollWidth"] > page["innerWidth"] and page["overflowing"] == ["div right=3008"]
    good = tmp_path / "good.html"
    good.write_text(
        "<!DOCTYPE html><html><head><title>good</title></head><body><img alt='dot' src='data:image/png;base64,"
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=='></body></html>"
    )
    page = inspect(good, tmp_path)
    _check(page)  # with its screenshot
    assert page["images"][0]["naturalWidth"] == 1 and page["scrollWidth"] <= page["innerWidth"]

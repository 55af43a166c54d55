"""report.html and its SVG plots: drawn without matplotlib in the container layout, with the champion
overlaid, the decision and the evaluated subject at the top, and rendered by a real browser."""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from processing_scripts import charts, evaluate, gate, model_archive, report

PLOT_FILES = ["calibration.svg", "confusion_matrix.svg", "pr.svg", "roc.svg"]
SVG = re.compile(r'<svg xmlns="http://www.w3.org/2000/svg" id="([a-z_]+)".*?</svg>', re.S)


def _predictions(demo: dict[str, Path], model: str, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    data = np.loadtxt(demo["test"], delimiter=",")
    scores = joblib.load(demo[model].parent / f"{model}.joblib").predict_proba(data[:, 1:])[:, 1]
    folder.mkdir(parents=True)
    (folder / "test.csv.out").write_text("".join(f"{int(y)},{float(s)!r}\n" for y, s in zip(data[:, 0], scores)))
    return data[:, 0].astype(int), scores


def _context(folder: Path, demo: dict[str, Path], champion_evaluation: Path, *, model: bool) -> Path:
    (folder / "champion").mkdir(parents=True)
    if model:
        shutil.copy(demo["champion"], folder / "champion" / "model.tar.gz")
    shutil.copy(champion_evaluation, folder / "champion" / "evaluation.json")
    (folder / "context.json").write_text(json.dumps({
        "champion": {"arn": "arn:aws:sagemaker:us-east-1:1:model-package/churn/1", "version": 1,
                     "model_staged": model, "evaluation_staged": True, "errors": [],
                     "model_sha256": model_archive.archive_sha256(demo["champion"])},
        "validation": None,
    }))
    return folder


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict[str, Path]:
    from pipeline.demo import make_demo_files

    root = tmp_path_factory.mktemp("report")
    files = make_demo_files(root / "demo")
    y, champion_scores = _predictions(files, "champion", root / "champion-predictions")
    # The champion's recorded evaluation.json, as it was registered.
    assert evaluate.main(["--predictions", str(root / "champion-predictions"), "--output-dir",
                          str(root / "champion-evaluation"), "--bootstrap", "0"]) == 0
    return {**files, "root": root, "y": y, "champion_scores": champion_scores,
            "champion_evaluation": root / "champion-evaluation" / "evaluation.json"}


@pytest.fixture(scope="module")
def container_run(demo) -> dict:
    """evaluate.py as the container runs it (``python3 -m processing_scripts.evaluate`` over the staged
    code bundle, no matplotlib importable) on a challenger that regresses against a champion scored on the
    same rows."""
    from tests.container import container_command, container_env, stage_code

    root = demo["root"] / "container"
    code = stage_code(root / "code")
    blocker = root / "no-matplotlib" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('the scikit-learn 1.9-0 image has no matplotlib')\n")
    env = container_env(code, blocker.parent)
    _predictions(demo, "regressing", root / "predictions")
    (root / "test").mkdir()
    shutil.copy(demo["test"], root / "test" / "test.csv")
    (root / "model").mkdir()
    shutil.copy(demo["regressing"], root / "model" / "model.tar.gz")
    context = _context(root / "context", demo, demo["champion_evaluation"], model=True)
    result = subprocess.run(
        container_command("evaluate", "--predictions", str(root / "predictions"), "--test-data", str(root / "test"),
                          "--model", str(root / "model"), "--context", str(context),
                          "--output-dir", str(root / "out"), "--bootstrap", "200", "--model-package-group", "churn",
                          "--execution-id", "exec-42", "--evaluated-at", "2026-12-01T21:00:00Z"),
        capture_output=True, text=True, timeout=120, cwd=root, env=env,
    )
    assert result.returncode == 0, result.stderr
    probe = subprocess.run([sys.executable, "-c", "import matplotlib"], capture_output=True, text=True, env=env)
    return {"out": root / "out", "matplotlib_blocked": probe.returncode != 0 and "no matplotlib" in probe.stderr}


def _inline_svgs(page: str) -> dict[str, str]:
    return {match.group(1): match.group(0) for match in SVG.finditer(page)}


def _path_points(svg: str, colour: str) -> list[int]:
    """The number of points of each path drawn in ``colour``."""
    return [d.count(" L") + 1 for d in re.findall(rf'<path d="([^"]+)" fill="none" stroke="{colour}"', svg)]


def test_container_without_matplotlib_draws_the_four_plots_as_inline_svg(demo, container_run):
    out = container_run["out"]
    assert container_run["matplotlib_blocked"], "the blocker did not make matplotlib unimportable"
    assert sorted(p.name for p in out.iterdir()) == sorted([*PLOT_FILES, "constraints.json", "evaluation.json", "report.html"])
    page = (out / "report.html").read_text()
    svgs = _inline_svgs(page)
    assert sorted(svgs) == sorted(report.PLOTS) and page.count("<svg") == 4 and "<img" not in page
    for name, svg in svgs.items():
        root = ET.fromstring(svg)
        title = root.find("{http://www.w3.org/2000/svg}title")
        assert title is not None and title.text, f"{name}: no <title>"
        # The standalone file is the inline plot itself, as an SVG document.
        assert (out / f"{name}.svg").read_text() == charts.XML_DECLARATION + svg + "\n"
    document = json.loads((out / "evaluation.json").read_text())
    roc_points = len(document["binary_classification_metrics"]["receiver_operating_characteristic_curve"]
                     ["false_positive_rates"])
    assert roc_points > 50 and max(_path_points(svgs["roc"], charts.BLUE)) > 0.5 * roc_points
    assert max(_path_points(svgs["pr"], charts.BLUE)) > 50
    assert svgs["calibration"].count('<circle cx="') >= 6
    # The champion: its point on these rows, and its recorded curve (many points), each named so.
    assert document["gate"]["champion"]["status"] == "paired"
    for name in ("roc", "pr"):
        assert "champion v1 at its threshold 0.5, scored on these test rows" in svgs[name]
        assert "champion v1: recorded curve, its own test set" in svgs[name]
        assert max(_path_points(svgs[name], charts.ORANGE)) > 50
    assert "champion v1: recorded bins, its own test set" in svgs["calibration"]
    assert _path_points(svgs["roc"], "#6b7280") == [2]  # the chance diagonal


def test_champion_counts_are_those_of_the_champion_on_the_same_rows(demo, container_run):
    svg = _inline_svgs((container_run["out"] / "report.html").read_text())["confusion_matrix"]
    (tn, fp), (fn, tp) = confusion_matrix(demo["y"], demo["champion_scores"] >= 0.5)
    assert [int(n.replace(",", "")) for n in re.findall(r">champion: ([\d,]+)<", svg)] == [tn, fp, fn, tp]
    assert "champion v1: scored on these test rows, at its threshold 0.5" in svg


def test_the_decision_and_the_subject_lead_the_page(container_run):
    page = (container_run["out"] / "report.html").read_text()
    banner = page.index('<section class="verdict failed"')
    assert banner < page.index("What was evaluated") < page.index("<h2>Quality gate checks")
    assert "&#10008; Quality gate: FAILED" in page and "<title>Model evaluation: quality gate FAILED</title>" in page
    failed = re.findall(r'<tr class="failed"><td>([a-z_0-9]+)</td><td class="outcome">&#10008; FAILED', page)
    assert failed == ["auc_regression", "f1_regression"]
    assert len(re.findall(r'<tr class="passed">', page)) == 4
    document = json.loads((container_run["out"] / "evaluation.json").read_text())
    for value in ("churn", "exec-42", document["subject"]["model_sha256"], "2026-12-01T21:00:00Z"):
        assert value and html.escape(value) in page
    assert page.count('<span class="missing">not recorded</span>') == 1  # no --model-uri was given


def test_a_recorded_champion_is_drawn_from_its_own_evaluation(demo, tmp_path):
    _predictions(demo, "better", tmp_path / "predictions")
    context = _context(tmp_path / "context", demo, demo["champion_evaluation"], model=False)
    assert evaluate.main(["--predictions", str(tmp_path / "predictions"), "--context", str(context),
                          "--output-dir", str(tmp_path / "out"), "--bootstrap", "0"]) == 0
    svgs = _inline_svgs((tmp_path / "out" / "report.html").read_text())
    assert "champion v1: recorded curve, its own test set" in svgs["roc"]
    assert "scored on these test rows" not in "".join(svgs.values())
    recorded = json.loads(demo["champion_evaluation"].read_text())["binary_classification_metrics"]["confusion_matrix"]
    assert re.findall(r">champion: (\d+)<", svgs["confusion_matrix"]) == [
        str(recorded[a][b]) for a in "01" for b in "01"
    ]
    assert f"recorded on its own test set ({len(demo['y'])} rows)" in svgs["confusion_matrix"]


def _document(**gate_settings) -> dict:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    document = evaluate.build_document(y, np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0, 1), n_bootstrap=50)
    document["gate"] = gate.decide(document, gate.GateSettings(**gate_settings))
    return document


def test_a_champion_the_gate_could_not_use_is_not_drawn():
    document = _document()
    document["gate"]["champion"] = {"status": "unavailable", "version": 3, "reason": "cannot compare: changed"}
    recorded = _document()
    plots = report.render_plots(document, recorded)
    assert "champion" not in "".join(plots.values())
    assert report.champion_view(document, recorded) is None
    del document["gate"]
    assert "champion" not in "".join(report.render_plots(document, recorded).values())


def test_a_partial_champion_evaluation_draws_what_it_has():
    document = _document()
    document["gate"]["champion"] = {"status": "recorded", "version": 2, "metrics": {}}
    plots = report.render_plots(document, {"binary_classification_metrics": {"auc": {"value": "NaN"}}})
    assert all(ET.fromstring(svg) is not None for svg in plots.values())
    assert "champion" not in plots["roc"] + plots["calibration"]  # no curve, no bins recorded: nothing to draw


def test_passed_and_undecided_banners():
    passed = report.render_html(document := _document(auc_threshold=0.5, f1_threshold=0.3),
                                report.render_plots(document))
    assert '<section class="verdict passed"' in passed and "&#10004; Quality gate: PASSED" in passed
    assert '<tr class="failed"' not in passed
    undecided = _document()
    del undecided["gate"]
    page = report.render_html(undecided, report.render_plots(undecided))
    assert "Quality gate: NOT DECIDED" in page and "Quality gate checks" not in page


def test_subject_values_are_escaped_and_missing_ones_say_not_recorded():
    document = _document()
    document["subject"] = {"model_package_group": "team<a>&b", "pipeline_execution_id": None, "model_uri": "",
                           "model_sha256": "ab" * 32, "evaluated_at": "2026-01-02T03:04:05Z"}
    page = report.render_html(document, {})
    assert "<code>team&lt;a&gt;&amp;b</code>" in page and f"<code>{'ab' * 32}</code>" in page
    assert '<time datetime="2026-01-02T03:04:05Z">' in page
    assert page.count('<span class="missing">not recorded</span>') == 2
    del document["subject"]
    assert report.render_html(document, {}).count('<span class="missing">not recorded</span>') == 5


def test_charts_drop_unplottable_points_and_escape_labels():
    svg = charts.unit_chart("x", title="a <b> & 'c'", description="d", x_label="x", y_label="y", series=[
        charts.Series("<script>", [0, "NaN", 0.5, float("inf"), 2.0], [0, 0.5, 0.5, 0.1, 1.0])])
    root = ET.fromstring(svg)  # well-formed XML whatever the labels hold
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert root.find("{http://www.w3.org/2000/svg}title").text == "a <b> & 'c'"
    # (0, 0), (0.5, 0.5) and (2, 1) clipped to (1, 1); NaN and infinity dropped.
    assert re.search(r'<path d="([^"]+)"', svg).group(1) == "M72.0,404.0 L252.0,224.0 L432.0,44.0"


# --- in a real browser -------------------------------------------------------------------------------------

PROBE = """<script>
addEventListener("load", () => {
  const charts = [...document.querySelectorAll("svg")].map(svg => {
    const r = svg.getBoundingClientRect(), b = svg.getBBox(), title = svg.querySelector("title");
    return {id: svg.id, title: title ? title.textContent : "", left: r.left + scrollX, top: r.top + scrollY,
            width: r.width, height: r.height, bbox: [b.width, b.height],
            ink: [...svg.querySelectorAll("path")].reduce((sum, p) => sum + p.getTotalLength(), 0),
            cells: [...svg.querySelectorAll("rect.cell")].map(c => c.getBBox().width * c.getBBox().height)};
  });
  const images = [...document.images].map(i => ({src: i.src.slice(0, 80), ok: i.complete && i.naturalWidth > 0}));
  const probe = document.createElement("pre");
  probe.id = "probe";
  probe.textContent = JSON.stringify({charts, images, width: document.documentElement.scrollWidth,
                                      height: document.documentElement.scrollHeight});
  document.body.appendChild(probe);
});
</script>"""
WINDOW_WIDTH = 1200


def _chromium() -> str:
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed: .ci/run installs it (apt-get install -y chromium)")
    pytest.skip("chromium is not installed (apt-get install -y chromium); CI runs this test")


def _browser(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         "--force-device-scale-factor=1", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=60,
    )


def _near(pixels: np.ndarray, colour: str, tolerance: int = 40) -> int:
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(pixels.astype(int) - rgb).max(axis=-1) <= tolerance).sum())


def test_report_renders_in_headless_chromium(container_run, tmp_path):
    """The page as Chromium lays it out and paints it: four titled, non-empty plots side by side, no
    broken image, and the curves' colours on screen."""
    from PIL import Image

    chromium = _chromium()
    out = container_run["out"]
    page = (out / "report.html").read_text()
    probe_page = out.parent / "probe.html"  # beside the outputs, so the relative .svg links resolve alike
    probe_page.write_text(page.replace("</body>", PROBE + "</body>"))
    dumped = _browser(chromium, tmp_path / "profile", f"--window-size={WINDOW_WIDTH},2000", "--dump-dom",
                      probe_page.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dumped.stdout, re.S)
    assert found, f"chromium rendered no page: {dumped.stderr[-2000:]}"
    layout = json.loads(html.unescape(found.group(1)))
    assert all(image["ok"] for image in layout["images"]), layout["images"]
    assert layout["width"] <= WINDOW_WIDTH, "the page is wider than the window"
    boxes = {chart["id"]: chart for chart in layout["charts"]}
    assert sorted(boxes) == sorted(report.PLOTS)
    for chart in boxes.values():
        assert chart["title"] and chart["width"] >= 300 and chart["height"] >= 300, chart
        assert min(chart["bbox"]) > 200, chart
        if chart["id"] == "confusion_matrix":
            assert len(chart["cells"]) == 4 and min(chart["cells"]) > 10000, chart
        else:
            assert chart["ink"] > 1000, chart  # pixels of curve drawn

    shot = tmp_path / "report.png"
    height = min(int(layout["height"]) + 20, 10000)
    painted = _browser(chromium, tmp_path / "profile", f"--window-size={WINDOW_WIDTH},{height}",
                       f"--screenshot={shot}", (out / "report.html").as_uri())
    assert shot.is_file(), painted.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert (pixels.min(axis=-1) < 200).mean() > 0.02, f"the page is blank: {shot}"
    for name, chart in boxes.items():
        top, left = int(chart["top"]), int(chart["left"])
        crop = pixels[top:top + int(chart["height"]), left:left + int(chart["width"])]
        assert crop.shape[0] > 300 and crop.shape[1] > 300, f"{name} is not on the screenshot {shot}"
        assert (crop.min(axis=-1) < 200).mean() > 0.03, f"{name} is drawn empty: {shot}"
        if name == "confusion_matrix":
            assert _near(crop, "#1e40af") > 5000, f"{name}: no shaded cells: {shot}"
        else:
            assert _near(crop, charts.BLUE) > 300, f"{name}: the challenger is not drawn: {shot}"
            assert _near(crop, charts.ORANGE) > 100, f"{name}: the champion is not drawn: {shot}"


@pytest.mark.parametrize("level, shown", [(0.95, "95%"), (0.9, "90%"), (0.995, "99.5%")])
def test_intervals_are_labelled_with_the_documents_confidence_level(level, shown):
    document = _document()
    document["confidence_intervals"]["level"] = level
    page = report.render_html(document, {})
    assert page.count(f"{shown} interval") == 2 and ("95% interval" not in page or shown == "95%")

"""Tests of the teaching app (cisim/app.py): the lever mapping, the charts' words and units, the
saved design, the page built without a browser, and the app served by ``solara run`` and driven
in a real headless Chromium through Playwright: one run per visitor (two and three browser
contexts at once), the main charts above the fold at 1280x720, slider values and the Reset cue,
play/pause, and the scenario download.

The browser tests need Debian's Chromium (``apt-get install -y chromium``) and the Python
packages ``playwright``, ``solara`` and ``solara-assets`` (the front-end files, so the page
loads without internet access); it fails, never skips, when one is missing.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cisim.cli.app import APP_PATH, app_command, app_environment

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SERVER_START_TIMEOUT = 180  # s: the first start imports numba kernels and Solara


# ---- the model behind the sliders ---------------------------------------------------------------


def test_levers_map_to_scenario_fields():
    from cisim.app import TeachingModel, lever_defaults, teaching_scenario

    sc = teaching_scenario(
        cadence="monthly", facilitator_fte=0.5, facilitation_skill=0.3, project_manager_fte=2.0,
        data_manager_fte=0.0, shared_measurement=False, measurement_budget_k=20.0,
        funding_years=3.0, engagement_intensity=0.9, equity_focus=0.6,
        nonprofit_partners=0, academia_partners=4, population_size=1500,
    )
    assert sc.meetings.cadence == "monthly"
    assert sc.backbone.staff.facilitator == 0.5
    assert sc.backbone.staff.project_manager == 2.0
    assert sc.backbone.staff.data_manager == 0.0
    assert sc.backbone.skill == 0.3
    assert sc.backbone.budget_per_year == pytest.approx(250_000.0)  # $100k per FTE
    assert sc.measurement.shared is False
    assert sc.measurement.investment_per_year == 20_000.0
    assert sc.funding.max_years == 3.0
    assert sc.engagement.intensity == 0.9
    assert sc.engagement.equity_focus == 0.6
    assert sc.population.size == 1500
    counts = sc.partner_generation.counts
    assert "nonprofit" not in counts and counts["academia"] == 4
    # untouched levers keep the default scenario's values
    defaults = lever_defaults()
    assert counts["private"] == defaults["private_partners"] == 3
    # a funding horizon at the scenario's horizon means no cliff
    assert teaching_scenario(funding_years=10.0).funding.max_years is None

    model = TeachingModel(academia_partners=4, nonprofit_partners=0, rng="7")
    assert model.factual.partners.n == len(sc.partners) + sum(counts.values())
    assert model.seed == 7


def test_default_levers_reproduce_the_default_scenario():
    from cisim.app import base_scenario, teaching_scenario

    base = base_scenario()
    sc = teaching_scenario()
    assert sc.population.size == 2000
    same = sc.with_overrides({"population.size": base.population.size,
                              "population.mesa_agents": base.population.mesa_agents})
    assert same == base


def test_unknown_lever_is_rejected():
    from cisim.app import lever_overrides

    with pytest.raises(KeyError, match="facilitatr_fte"):
        lever_overrides({"facilitatr_fte": 1.0})


def test_views_follow_the_model():
    from cisim.app import GRID_SIDE, TeachingModel, population_grid, readout

    model = TeachingModel(facilitator_fte=3.0, rng=3)
    first = readout(model)
    codes, names = population_grid(model)
    assert codes.shape == (GRID_SIDE, GRID_SIDE)
    assert set(codes.ravel()) <= {0, 1, 2, 3}
    assert names == list(model.population.group_names)
    # the grid shows the sample's true states: count of "in outcome" codes matches the agents
    from cisim.agents import Beneficiary

    agents = list(model.agents_by_type[Beneficiary])
    assert int((codes % 2 == 1).sum()) == sum(a.in_outcome for a in agents)
    for _ in range(8):
        model.step()
    later = readout(model)
    assert later["week"] == "8" and first["week"] == "0"
    assert later["trust between partners"] != first["trust between partners"]


def test_a_finished_run_stays_finished():
    # Mesa's Step runs a fixed number of weeks; past the horizon the model must not step
    from cisim.app import TeachingModel, readout

    model = TeachingModel(rng=2, population_size=500)
    for _ in range(model.n_steps + 7):
        model.step()
    assert model.steps == model.n_steps == 520
    assert not model.running
    assert readout(model)["week"] == "520"


def test_views_drawn_while_another_thread_plays():
    # While playing, Mesa's controller steps the model in one thread while the page draws it
    # in another; the model's lock keeps each drawing to one consistent week
    import threading

    from cisim.app import TeachingModel, _reading, change_figure, sroi_figure

    model = TeachingModel(rng=4, population_size=500)
    failures: list[BaseException] = []

    def play():
        for _ in range(150):
            model.step()
            time.sleep(0.01)  # a play loop's pace: on a fast host the steps alone outrun a drawing

    player = threading.Thread(target=play)
    player.start()
    drawn = 0
    try:
        while player.is_alive():
            with _reading(model):
                week = model.steps
                for draw in (change_figure, sroi_figure):
                    line = draw(model).axes[0].get_lines()[0]
                    assert len(line.get_xdata()) == len(line.get_ydata()) == week + 1
            drawn += 1
            time.sleep(0.005)  # as the page waits for its frame: the player gets the lock too
    except BaseException as exc:  # reported below, once the thread has ended
        failures.append(exc)
    finally:
        player.join()
    assert failures == [] and drawn > 3
    assert model.steps == 150


def _figure_texts(fig) -> list[str]:
    texts = []
    for ax in fig.axes:
        texts += [ax.get_title(), ax.get_xlabel(), ax.get_ylabel()]
        legend = ax.get_legend()
        if legend is not None:
            texts += [t.get_text() for t in legend.get_texts()]
    return [t for t in texts if t]


def test_time_charts_speak_in_years_and_plain_words():
    from cisim.app import (
        TeachingModel,
        change_figure,
        components_figure,
        sroi_figure,
    )
    from cisim.outcomes import TRAJECTORY_COLUMNS

    model = TeachingModel(rng=1)
    for _ in range(60):
        model.step()
    for draw in (change_figure, sroi_figure, components_figure):
        fig = draw(model)
        texts = _figure_texts(fig)
        # no column names (population_change_vs_cf, funding_runway ...) anywhere on the chart
        assert not [t for t in texts if "_" in t or t in TRAJECTORY_COLUMNS], texts
        ax = fig.axes[0]
        assert "Years" in ax.get_xlabel()
        assert ax.get_xlim() == (0.0, model.n_steps / 52)  # the whole horizon, in years
        x = ax.get_lines()[0].get_xdata()
        assert len(x) == 61 and x[-1] == pytest.approx(60 / 52)
    change = _figure_texts(change_figure(model))
    assert "Population change vs. isolation (pp)" in change
    assert "Break-even (1)" in _figure_texts(sroi_figure(model))
    assert "Trust between partners" in _figure_texts(components_figure(model))


def test_lever_values_are_written_out():
    from cisim.app import LEVERS, default_params, lever_text

    assert lever_text("facilitator_fte", 1.5) == "1.5 FTE"
    assert lever_text("funding_years", 3.0) == "3 years"
    assert lever_text("funding_years", 10.0) == "never"
    assert lever_text("measurement_budget_k", 40.0) == "$40k a year"
    assert lever_text("population_size", 2000) == "2,000"
    assert lever_text("shared_measurement", False) == "off"
    # every lever has a value text
    for name, value in default_params().items():
        assert lever_text(name, value), name
    assert set(default_params()) == set(LEVERS)


def test_pending_changes_name_the_levers_not_yet_applied():
    from cisim.app import TeachingModel, default_params, pending_changes

    params = default_params()
    model = TeachingModel(**params)
    assert pending_changes(params, model) == []
    changed = {**params, "facilitator_fte": 0.0, "rng": "7"}
    pending = pending_changes(changed, model)
    assert pending == ["Facilitator → 0 FTE", "Seed (same seed, same history) → 7"]
    # once a model is built from them, nothing is pending
    assert pending_changes(changed, TeachingModel(**changed)) == []


def test_saved_design_loads_back_as_the_scenario(tmp_path):
    from cisim.app import default_params, design_toml, teaching_scenario
    from cisim.scenario import Scenario

    params = {**default_params(), "facilitator_fte": 0.5, "cadence": "monthly",
              "funding_years": 4.0, "academia_partners": 5, "rng": "class 3"}
    path = tmp_path / "design.toml"
    path.write_text(design_toml(params))
    loaded = Scenario.load(path)
    levers = {k: v for k, v in params.items() if k != "rng"}
    assert loaded == teaching_scenario(**levers)
    assert loaded.backbone.staff.facilitator == 0.5
    assert loaded.funding.max_years == 4.0
    assert loaded.partner_generation.counts["academia"] == 5
    assert "seed box: 'class 3'" in path.read_text()


def _walk_widgets(box) -> dict[str, list]:
    import ipywidgets

    found: dict[str, list] = {"html": [], "images": []}

    def walk(widget, seen):
        if id(widget) in seen:
            return
        seen.add(id(widget))
        if type(widget).__name__ == "HTML" and "cisim-readout" in str(
                getattr(widget, "attributes", {}).get("class", "")):
            found["html"].append(widget.unsafe_innerHTML)
        if isinstance(widget, ipywidgets.Image):
            found["images"].append(bytes(widget.value))
        for key in widget.keys:
            value = getattr(widget, key, None)
            for child in value if isinstance(value, list | tuple) else [value]:
                if isinstance(child, ipywidgets.Widget):
                    walk(child, seen)

    walk(box, set())
    return found


def test_app_builds_its_page_without_a_browser():
    import solara

    import cisim.app as app

    box, _rc = solara.render(app.Page(), handle_error=False)
    found = _walk_widgets(box)
    assert len(found["html"]) == 1
    assert "population change vs isolation" in found["html"][0]
    assert "SROI" in found["html"][0]
    # population change, SROI, components, partner network and population grid, each a PNG
    assert len(found["images"]) == 5
    assert all(img.startswith(b"\x89PNG") for img in found["images"])


def test_each_render_of_the_page_has_its_own_model():
    # Solara renders Page once per browser session: the model is made inside it, not shared
    import solara

    import cisim.app as app

    built = []
    original = app.TeachingModel.__init__

    def spy(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    app.TeachingModel.__init__ = spy
    try:
        solara.render(app.Page(), handle_error=False)
        solara.render(app.Page(), handle_error=False)
    finally:
        app.TeachingModel.__init__ = original
    assert len(built) == 2 and built[0] is not built[1]


def test_app_command_serves_the_app_module():
    cmd = app_command(8123, "127.0.0.1")
    assert cmd[:4] == [sys.executable, "-m", "solara", "run"]
    assert Path(cmd[4]) == APP_PATH and APP_PATH.exists()
    assert cmd[cmd.index("--port") + 1] == "8123" and "--production" in cmd


def test_app_server_runs_one_numba_thread_unless_told():
    assert app_environment({"PATH": "/bin"}) == {"PATH": "/bin", "NUMBA_NUM_THREADS": "1"}
    assert app_environment({"NUMBA_NUM_THREADS": "2"})["NUMBA_NUM_THREADS"] == "2"


def test_cli_app_rejects_a_bad_port():
    import argparse

    from cisim.cli import app as app_cli

    parser = argparse.ArgumentParser()
    app_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(["app", "--port", "70000"])
    assert args.func(args) == 2


def test_cli_app_names_a_port_in_use(capsys):
    import argparse

    from cisim.cli import app as app_cli

    parser = argparse.ArgumentParser()
    app_cli.add_parser(parser.add_subparsers())
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        args = parser.parse_args(["app", "--port", str(port), "--host", "127.0.0.1"])
        assert args.func(args) == 2
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port}" in err and "in use" in err and "--port" in err
    assert "Traceback" not in err


# ---- the app in a real browser ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_server(url: str, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"solara run exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1.0)
    pytest.fail(f"the app did not answer at {url} within {SERVER_START_TIMEOUT} s:\n"
                f"{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def app_server(tmp_path_factory):
    """``solara run cisim/app.py`` on a free localhost port, shared by the browser tests."""
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(app_command(port, "127.0.0.1"), stdout=out,
                                env=app_environment(),
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_for_server(url, proc, log)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright (fails, never skips, when missing)."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("Chromium is not installed: run `apt-get update && apt-get install -y "
                    "chromium` (the browser test drives Debian's Chromium via Playwright)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright is not installed: pip install playwright (never run "
                    "`playwright install`: the test uses the system's Chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                      headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def _revoked_plot(msg) -> bool:
    # A plot redrawn while the browser still fetched its previous image: Chromium reports
    # the revoked blob: URL as a failed load. The new image is checked by the tests; any other
    # failed resource (a file, the server) still fails the test.
    url = str(msg.location.get("url", ""))
    return msg.text.startswith("Failed to load resource") and url.startswith("blob:")


def _open(browser, url: str, errors: list[str], width: int = 1280, height: int = 720,
          **context_options):
    """A fresh browser context (its own cookies: a new visitor) on the app, loaded."""
    context = browser.new_context(viewport={"width": width, "height": height},
                                  **context_options)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text} "
                                                 f"({msg.location.get('url', '')})")
            if msg.type == "error" and not _revoked_plot(msg) else None)
    page.goto(url, timeout=120_000)
    page.wait_for_selector(".cisim-readout", timeout=120_000)
    page.wait_for_selector(".cisim-chart-population img", timeout=120_000)
    return context, page


def _readout(page) -> dict[str, str]:
    cells = [c.strip() for c in page.locator(".cisim-readout td").all_inner_texts()]
    assert len(cells) % 2 == 0 and cells
    return dict(zip(cells[::2], cells[1::2], strict=True))


def _week(page) -> int:
    match = re.match(r"Week (\d+)", page.inner_text(".cisim-week"))
    assert match, page.inner_text(".cisim-week")
    return int(match.group(1))


def _plot_images(page, attempts: int = 10) -> list[bytes]:
    """The bytes of the page's matplotlib images (ipywidgets serve them as blob: URLs).

    When a plot is redrawn while its bytes are read, ipywidgets revokes the old blob URL and
    the fetch fails; the page is read again once it has settled (up to ``attempts`` times).
    """
    for _ in range(attempts):
        encoded = page.evaluate("""async () => {
            const out = [];
            for (const img of document.querySelectorAll('.cisim-chart img')) {
                if (!img.src.startsWith('blob:') && !img.src.startsWith('data:image')) continue;
                let buf;
                try {
                    buf = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
                } catch (e) {
                    return null;  // revoked by a redraw: read the page again
                }
                let bin = '';
                for (const b of buf) bin += String.fromCharCode(b);
                out.push(btoa(bin));
            }
            return out;
        }""")
        if encoded is not None:
            images = [base64.b64decode(e) for e in encoded]
            return [img for img in images if img.startswith(b"\x89PNG")]
        page.wait_for_timeout(500)
    raise AssertionError(f"the plots kept being redrawn while read ({attempts} attempts)")


def _step(page, times: int = 1) -> None:
    """Press Step and wait until the banner and the table of values both show the new week."""
    for _ in range(times):
        before = _week(page)
        page.get_by_role("button", name="Step", exact=True).click()
        page.wait_for_function(
            "w => { const e = document.querySelector('.cisim-week');"
            " return e && !e.innerText.startsWith('Week ' + w + ' '); }",
            arg=before, timeout=60_000)
        _settled(page)


def _settled(page) -> None:
    """Wait until the table of values shows the banner's week (the views update one by one)."""
    page.wait_for_function(
        "() => { const e = document.querySelector('.cisim-week');"
        " const cells = [...document.querySelectorAll('.cisim-readout td')];"
        " const i = cells.findIndex(c => c.innerText.trim() === 'week');"
        " return e && i >= 0 && e.innerText.startsWith('Week ' + cells[i + 1].innerText.trim()"
        " + ' '); }", timeout=60_000)


def _stable_week(page, quiet_ms: int = 2000, attempts: int = 15) -> int:
    """The week once it has stayed the same for ``quiet_ms``."""
    for _ in range(attempts):
        week = _week(page)
        page.wait_for_timeout(quiet_ms)
        if _week(page) == week:
            return week
    raise AssertionError(f"the week kept moving after pause ({attempts} attempts)")


def _set_slider_to_min(page, lever: str) -> None:
    thumb = page.locator(f".cisim-lever-{lever} [role=slider]")
    thumb.focus()
    thumb.press("Home")
    page.wait_for_function("e => e.getAttribute('aria-valuenow') === '0'",
                           arg=thumb.element_handle(), timeout=10_000)


def test_app_in_headless_chromium(app_server, browser, tmp_path):
    errors: list[str] = []
    context, page = _open(browser, app_server, errors)
    try:
        # loads: the phase is shown, the views are drawn, nothing failed in the page
        assert page.inner_text(".cisim-phase").strip() == "Initiation"
        assert _week(page) == 0
        start = _readout(page)
        assert start["population change vs isolation (pp)"] == "+0.00"
        images0 = _plot_images(page)
        assert len(images0) == 5

        # what a class should not see: Mesa's page tabs and thread switch, Solara's badge
        body = page.inner_text("body")
        assert "Page 0" not in body and "PAGE 0" not in body.upper()
        assert "Use Threads" not in body
        assert "runs on Solara" not in page.content()

        # at 1280x720 the population-change and SROI charts start above the fold
        for name in ("change", "sroi"):
            box = page.locator(f".cisim-chart-{name} img").bounding_box()
            assert box is not None and box["height"] > 100, name
            assert box["y"] < 720 and box["x"] + box["width"] <= 1280, (name, box)

        # slider values are shown, and the cue says they apply on Reset
        value = page.locator(".cisim-lever-facilitator_fte .cisim-lever-value")
        assert value.inner_text().strip() == "1 FTE"
        assert page.locator(".cisim-apply-hint").is_visible()
        assert page.locator(".cisim-pending").count() == 0

        # a few steps move the plotted values; a step is four weeks by default
        _step(page, 2)
        weeks = _week(page)
        assert weeks == 8
        stepped = _readout(page)
        assert stepped["trust between partners"] != start["trust between partners"]
        images1 = _plot_images(page)
        assert len(images1) == 5
        assert sum(a != b for a, b in zip(images0, images1, strict=True)) >= 3

        # a slider change (no facilitator): shown at once, flagged as not applied, and the
        # run goes on with its old design
        _set_slider_to_min(page, "facilitator_fte")
        page.wait_for_function(
            "() => document.querySelector('.cisim-lever-facilitator_fte .cisim-lever-value')"
            ".innerText.trim() === '0 FTE'", timeout=10_000)
        pending = page.locator(".cisim-pending")
        pending.wait_for(timeout=10_000)
        assert "Facilitator → 0 FTE" in pending.inner_text()
        assert "Reset" in pending.inner_text()
        assert "/1 FTE" in page.inner_text(".cisim-design")

        # Reset applies it: the same steps give other values
        page.get_by_role("button", name="Reset", exact=True).click()
        # the views update one by one: wait for the design and the week both to show the reset
        page.wait_for_function(
            "() => document.querySelector('.cisim-design').innerText.includes('/0 FTE')"
            " && document.querySelector('.cisim-week').innerText.startsWith('Week 0 ')",
            timeout=60_000)
        page.locator(".cisim-pending").wait_for(state="detached", timeout=10_000)
        _step(page, 2)
        assert _week(page) == weeks
        unfacilitated = _readout(page)
        assert float(unfacilitated["trust between partners"]) < float(
            stepped["trust between partners"])
        assert float(unfacilitated["backbone capacity"]) < float(stepped["backbone capacity"])
        images2 = _plot_images(page)
        assert images2 != images1

        shot = tmp_path / "app.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes().startswith(b"\x89PNG")
    finally:
        context.close()
    assert errors == []


def test_each_visitor_has_their_own_run(app_server, browser):
    errors: list[str] = []
    context_a, a = _open(browser, app_server, errors)
    context_b, b = _open(browser, app_server, errors)
    try:
        assert _week(a) == 0 and _week(b) == 0
        _step(a, 3)
        assert _week(a) == 12
        b.wait_for_timeout(1500)  # room for a shared model's update to reach B
        assert _week(b) == 0
        assert _readout(b)["population change vs isolation (pp)"] == "+0.00"
        _step(b)
        assert _week(b) == 4 and _week(a) == 12
        # A plays (Mesa's play loop runs in a thread): B's run still does not move
        a.get_by_role("button", name="▶").click()
        a.wait_for_function(
            "() => { const e = document.querySelector('.cisim-week');"
            " return e && Number(/^Week (\\d+)/.exec(e.innerText)[1]) >= 24; }",
            timeout=120_000)
        a.get_by_role("button", name="❚❚").click()
        a.get_by_role("button", name="▶").wait_for(timeout=60_000)
        paused = _stable_week(a)  # an update under way when pausing still arrives
        a.wait_for_timeout(3000)
        assert _week(a) == paused  # pause stops the run
        assert _week(b) == 4
        # a third visitor starts a run of their own, at week 0
        context_c, c = _open(browser, app_server, errors)
        try:
            assert _week(c) == 0
            assert c.inner_text(".cisim-phase").strip() == "Initiation"
        finally:
            context_c.close()
        assert _week(a) == paused and _week(b) == 4
    finally:
        context_a.close()
        context_b.close()
    assert errors == []


def test_save_design_downloads_a_scenario_that_loads(app_server, browser, tmp_path):
    from cisim.app import default_params, teaching_scenario
    from cisim.scenario import Scenario

    errors: list[str] = []
    context, page = _open(browser, app_server, errors, accept_downloads=True)
    try:
        _set_slider_to_min(page, "facilitator_fte")  # not applied: the file has the sliders
        page.wait_for_function(
            "() => document.querySelector('.cisim-lever-facilitator_fte .cisim-lever-value')"
            ".innerText.trim() === '0 FTE'", timeout=10_000)
        with page.expect_download(timeout=60_000) as info:
            page.get_by_role("button", name=re.compile("Save this design")).click()
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
    finally:
        context.close()
    assert path.name == "cisim-design.toml"
    loaded = Scenario.load(path)
    levers = {k: v for k, v in default_params().items() if k != "rng"}
    assert loaded == teaching_scenario(**{**levers, "facilitator_fte": 0.0})
    assert loaded.backbone.staff.facilitator == 0.0
    assert errors == []


def test_a_run_plays_to_its_end(app_server, browser):
    errors: list[str] = []
    context, page = _open(browser, app_server, errors)
    try:
        page.locator(".v-select", has_text="Each Step").click()
        page.locator(".v-menu__content .v-list-item", has_text="52 weeks (a year)").click()
        _step(page)
        assert _week(page) == 52
        page.get_by_role("button", name="▶").click()
        page.locator(".cisim-finished").wait_for(timeout=300_000)
        _settled(page)
        assert _week(page) == 520
        assert "press Reset" in page.inner_text(".cisim-finished")
        assert page.get_by_role("button", name="Step", exact=True).is_disabled()
        assert page.get_by_role("button", name="▶").is_disabled()
        assert page.locator(".cisim-error").count() == 0
        page.get_by_role("button", name="Reset", exact=True).click()
        page.locator(".cisim-finished").wait_for(state="detached", timeout=60_000)
        assert _week(page) == 0
    finally:
        context.close()
    assert errors == []


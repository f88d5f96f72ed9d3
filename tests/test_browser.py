"""The student's view in a real browser: JupyterLab in headless Chromium, driven by Playwright.

For every lesson: open the solution notebook, run all cells, and check that no cell shows an
error, every widget renders (no "Error displaying widget", no "Loading widget..." left) and every
plot appears; save a screenshot under build/screenshots/. Then open the student release and
check that nbgrader's Validate control is there.

The browser is Debian's `chromium`, installed by `make system-deps` (which `make test` runs when
it is missing; never downloaded by a tool, never installed from inside a test). The server runs on a free loopback port with a token, on a copy of the
course, and is always shut down.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from course import LESSONS, ROOT, copy_course

pytestmark = pytest.mark.browser
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[test])")

SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Lab settings for a quiet, fully rendered page: no news or update pop-ups, and every cell in
# the DOM (JupyterLab 4 otherwise only renders the cells on screen).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def find_chromium() -> str:
    for candidate in (shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and os.path.exists(candidate):
            return candidate
    pytest.skip("Debian's chromium is not installed: run `make system-deps` (make test does when it can)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a copy of the course; yields (base_url, token)."""
    course = copy_course(tmp_path_factory.mktemp("course"), with_grader=False)
    settings = tmp_path_factory.mktemp("lab-settings")
    for name, values in LAB_SETTINGS.items():
        plugin, file = name.rsplit("/", 1)
        (settings / plugin).mkdir(parents=True, exist_ok=True)
        (settings / plugin / file).write_text(json.dumps(values))
    port, token = free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTER_RUNTIME_DIR=str(tmp_path_factory.mktemp("runtime")),
        # a fresh workspace: no tabs restored from an earlier session, nothing written to ~/.jupyter
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path_factory.mktemp("workspaces")),
    )
    env.pop("NBGRADER_EXECUTION", None)
    log = open(course / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}",
            "--LabApp.expose_app_in_browser=True", "--ServerApp.port_retries=0", "--allow-root",
        ],
        cwd=course, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"JupyterLab did not start:\n{(course / 'jupyterlab.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield base, token
    finally:
        # The whole process group: the server and every kernel it started.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(server.pid, sig)
                server.wait(timeout=20)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()


@pytest.fixture(scope="module")
def browser():
    executable = find_chromium()
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


# The notebook panel showing `path`, found by path rather than focus.
PANEL = """(path) => Array.from(window.jupyterapp.shell.widgets('main'))
                      .find(w => w.context && w.context.path === path)"""


def open_notebook(browser, lab, path: str):
    base, token = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/lab/tree/{path}?reset&token={token}", wait_until="domcontentloaded")
    # Ready = the document is loaded and its cells are in the model (a fresh panel starts with one empty cell).
    page.wait_for_function(f"(path) => {{ const w = window.jupyterapp && ({PANEL})(path);"
                           " return w && w.context.isReady && w.content.widgets.length > 1; }",
                           arg=path, timeout=60_000)
    return page


# Reads the open notebook's model: per code cell, whether it ran and what outputs it holds.
CELL_STATE = """(path) => {
  const panel = (""" + PANEL + """)(path);
  const cells = [];
  for (const cell of panel.content.widgets) {
    if (cell.model.type !== 'code') continue;
    const outputs = cell.model.outputs.toJSON();
    cells.push({count: cell.model.executionCount, source: cell.model.sharedModel.getSource().slice(0, 80),
                errors: outputs.filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue),
                images: outputs.filter(o => o.data && o.data['image/png']).length,
                widgets: outputs.filter(o => o.data && o.data['application/vnd.jupyter.widget-view+json']).length});
  }
  return {cells, busy: panel.sessionContext.session && panel.sessionContext.session.kernel
                       ? panel.sessionContext.session.kernel.status : 'none'};
}"""


@pytest.mark.parametrize("lesson", LESSONS)
def test_solution_runs_and_renders_in_the_browser(browser, lab, lesson):
    path = f"solutions/{lesson}/{lesson}.ipynb"
    page = open_notebook(browser, lab, path)
    try:
        page.wait_for_function(f"(path) => ({PANEL})(path).sessionContext.session?.kernel?.status === 'idle'",
                               arg=path, timeout=60_000)
        page.evaluate(f"(path) => {{ window.jupyterapp.shell.activateById(({PANEL})(path).id);"
                      " return window.jupyterapp.commands.execute('notebook:run-all-cells'); }", path)
        deadline = time.monotonic() + 240
        while True:
            state = page.evaluate(CELL_STATE, path)
            if all(c["count"] for c in state["cells"]) and state["busy"] == "idle":
                break
            assert time.monotonic() < deadline, f"{lesson}: cells still running: {[c['source'] for c in state['cells'] if not c['count']]}"
            page.wait_for_timeout(500)

        errors = [(c["source"], c["errors"]) for c in state["cells"] if c["errors"]]
        assert not errors, f"{lesson}: cells show errors: {errors}"

        n_widgets = sum(c["widgets"] for c in state["cells"])
        if n_widgets:
            page.wait_for_function(
                "() => !document.body.innerText.includes('Loading widget...')", timeout=30_000
            )
            assert page.locator(".jupyter-widgets").count() >= n_widgets, f"{lesson}: widgets did not render"
        text = page.inner_text(".jp-Notebook")
        assert "Error displaying widget" not in text and "Loading widget..." not in text, f"{lesson}: a widget failed to render"

        n_images = sum(c["images"] for c in state["cells"])
        assert page.locator(".jp-RenderedImage img").count() == n_images, f"{lesson}: {n_images} plots expected on the page"

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.locator(".jupyter-widgets").first.scroll_into_view_if_needed() if n_widgets else None
        page.screenshot(path=str(SCREENSHOTS / f"{lesson}.png"))
    finally:
        page.close()


@pytest.mark.parametrize("lesson", LESSONS)
def test_release_opens_with_nbgrader_validate(browser, lab, lesson):
    path = f"lessons/{lesson}/{lesson}.ipynb"
    page = open_notebook(browser, lab, path)
    try:
        page.get_by_role("button", name="Validate").first.wait_for(timeout=30_000)
        assert page.locator(".jp-Notebook .jp-Cell").count() > 5
        sources = page.evaluate(f"(path) => ({PANEL})(path).content.widgets.map(c => c.model.sharedModel.getSource())", path)
        stubs = [s for s in sources if "raise NotImplementedError()" in s]
        assert stubs, f"{lesson}: the release shows no exercise stubs"
    finally:
        page.close()

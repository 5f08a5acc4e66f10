"""Open the notebooks in a real JupyterLab in headless Chromium, run them, and photograph every widget.

For each notebook this starts from a fresh kernel, runs all cells through JupyterLab's own "Run All"
command, then for every live widget output: takes a screenshot, moves its first control (a slider
step, the next dropdown option, or the "Run Interact" button), waits for the kernel to redraw, takes a
second screenshot, and records whether the output changed. That is the check a new user makes by hand:
the widget renders, and it responds.

Needs Chromium (Debian: ``apt-get install chromium``) and the ``playwright`` Python package (its own
browser download is not needed: we point it at the system Chromium). Not part of the test suite.

    python docs/capture_widgets.py                 # smoke setting, every notebook with a widget
    python docs/capture_widgets.py --full 06       # lab profile at full size, notebook 06 only

Writes ``docs/widgets/<notebook>-<k>-{before,after}.png``, ``shots.json`` (what was moved, what changed) and
``docs/widgets/README.md`` (the index); a run over some notebooks replaces only their entries.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "widgets"
CHROMIUM = "/usr/bin/chromium"
# Flags for a closed network: without the background-networking ones Chromium keeps dialling out.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
# Outputs with something to move (tqdm's progress bars are widgets too, but not ones a user drives).
CONTROLS = ".widget-slider, .widget-dropdown, .widget-button"


@dataclass
class Shot:
    """One widget's pair of screenshots (file names in ``docs/widgets``) and whether moving a control changed it."""

    notebook: str
    index: int
    control: str
    before: str
    after: str
    changed: bool
    setting: str  # "smoke" or "full"
    browser: str


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyter_lab(port: int, smoke: bool, root: Path):
    """A JupyterLab server on localhost serving ``root`` (no token, app exposed to page scripts)."""
    env = {**os.environ, "COURSE_SMOKE": "1" if smoke else "0", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           "--IdentityProvider.token=", "--ServerApp.password=", "--LabApp.expose_app_in_browser=True",
           "--ServerApp.disable_check_xsrf=True", "--allow-root", f"--ServerApp.root_dir={root}"]
    log = open(root / "jupyterlab.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(120):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=1)
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"JupyterLab did not start; see {log.name}")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def close_notebook(page: Page) -> None:
    """Shut down the open notebook's kernel and close its tab without saving (no dialog)."""
    page.evaluate("""async () => {
        const widget = window.jupyterapp.shell.currentWidget;
        await widget.sessionContext.shutdown();
        widget.dispose();
    }""")


def run_all(page: Page, name: str, timeout_s: float) -> None:
    """Run every cell of the freshly opened notebook and wait until each has run; raise on a cell error."""
    page.wait_for_function(
        "name => { const w = window.jupyterapp?.shell.currentWidget;"
        " return w?.context?.path.endsWith(name) && w.sessionContext?.session?.kernel; }",
        arg=name, timeout=120_000)
    page.add_style_tag(content=".Toastify { display: none !important; }")  # "Jupyter news?" toasts cover outputs
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    state = """() => {
        const cells = [...window.jupyterapp.shell.currentWidget.content.model.cells].filter(c => c.type === 'code');
        const error = cells.map(c => c.outputs.toJSON()).flat().find(o => o.output_type === 'error');
        if (error) return 'error: ' + error.ename + ': ' + error.evalue;
        return cells.every(c => c.executionCount !== null) ? 'done' : null;
    }"""
    page.wait_for_function(state, timeout=timeout_s * 1000, polling=1000)
    outcome = page.evaluate(state)
    if outcome != "done":
        raise RuntimeError(f"a cell raised {outcome}")
    page.wait_for_timeout(2_000)  # let the last widgets render


def move_first_control(area) -> str:
    """Move the output's first slider that can move, else change its first dropdown, the way a user would;
    then press its button if it has one (interact_manual). Returns what was done."""
    done = "nothing moved"
    for slider in area.locator(".widget-slider").all():
        readout = slider.locator(".widget-readout")
        value = readout.inner_text()
        handle = slider.locator(".noUi-handle")
        low, high, now = (float(handle.get_attribute(a)) for a in ("aria-valuemin", "aria-valuemax", "aria-valuenow"))
        handle.focus()
        for _ in range(3):  # toward the far side, so the move stays inside the range
            handle.press("ArrowRight" if now - low <= high - now else "ArrowLeft")
        if readout.inner_text() != value:
            done = f"slider '{slider.locator('.widget-label').inner_text()}' {value} -> {readout.inner_text()}"
            break
    else:
        select = area.locator(".widget-dropdown select")
        if select.count():
            values = select.first.evaluate("s => [...s.options].map(o => o.value)")
            labels = select.first.evaluate("s => [...s.options].map(o => o.textContent)")
            pick = (values.index(select.first.input_value()) + 1) % len(values)
            select.first.select_option(values[pick])
            label = area.locator(".widget-dropdown .widget-label").first.inner_text()
            done = f"dropdown '{label}' to {labels[pick]!r}"
    button = area.locator(".widget-button")
    if button.count():  # interact_manual: nothing happens until it is pressed
        button.first.click()
        done += f", then '{button.first.inner_text()}'"
    return done


def dismiss_dialogs(page: Page) -> None:
    """Close any JupyterLab dialog (it would grey out the screenshots), saying what it was."""
    for _ in range(3):
        dialog = page.locator(".jp-Dialog")
        if not dialog.count():
            return
        print(f"  closing a dialog: {dialog.first.inner_text()[:200]!r}")
        dialog.first.locator(".jp-Dialog-button.jp-mod-reject, .jp-Dialog-close-button").first.click()
        page.wait_for_timeout(500)


def capture(page: Page, notebook: str, out: Path, settle_s: float, setting: str, browser: str) -> list[Shot]:
    """Screenshots before and after moving each interactive widget of the open, executed notebook."""
    shots = []
    for stale in out.glob(f"{Path(notebook).stem}-*.png"):
        stale.unlink()
    dismiss_dialogs(page)
    page.screenshot(path=ROOT / "build" / "capture" / f"{Path(notebook).stem}-page.png")  # for debugging
    outputs = page.locator(".jp-Cell-outputWrapper").filter(has=page.locator(CONTROLS))
    for k in range(outputs.count()):
        area = outputs.nth(k)
        area.scroll_into_view_if_needed()
        stem = f"{Path(notebook).stem}-{k + 1}"
        before = out / f"{stem}-before.png"
        area.screenshot(path=before)
        control = move_first_control(area)
        page.wait_for_timeout(settle_s * 1000)
        after = out / f"{stem}-after.png"
        area.screenshot(path=after)
        changed = hashlib.sha256(before.read_bytes()).digest() != hashlib.sha256(after.read_bytes()).digest()
        shots.append(Shot(notebook, k + 1, control, before.name, after.name, changed, setting, browser))
        print(f"  widget {k + 1}: {control}; output changed: {changed}")
    return shots


def write_index(shots: list[Shot], out: Path) -> None:
    """Merge ``shots`` into ``shots.json`` (replacing earlier shots of the same notebooks) and write README.md."""
    record = out / "shots.json"
    kept = [Shot(**d) for d in json.loads(record.read_text())] if record.exists() else []
    fresh = {s.notebook for s in shots}
    merged = sorted([s for s in kept if s.notebook not in fresh] + shots, key=lambda s: (s.notebook, s.index))
    record.write_text(json.dumps([asdict(s) for s in merged], indent=1) + "\n")
    lines = [
        "# The workbook's widgets in a real browser",
        "",
        "Captured by `python docs/capture_widgets.py [--full]`: each notebook opened in JupyterLab in headless",
        "Chromium and run with Run All (in the smoke setting, or the lab profile at full size with `--full`),",
        "then every widget photographed, one control moved as a user would, and photographed again.",
        "",
        "| notebook | widget | setting | control moved | output changed | before | after |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in merged:
        lines.append(f"| {s.notebook} | {s.index} | {s.setting} | {s.control} | {'yes' if s.changed else '**no**'} "
                     f"| ![]({s.before}) | ![]({s.after}) |")
    lines += ["", f"Browser: {', '.join(sorted({s.browser for s in merged}))}."]
    (out / "README.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebook prefixes (default: every notebook)")
    parser.add_argument("--full", action="store_true", help="lab profile at full size instead of the smoke setting")
    parser.add_argument("--settle", type=float, default=4.0, help="seconds to wait for a widget to redraw")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed for one notebook's Run All")
    args = parser.parse_args(argv)
    notebooks = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")
                       if not args.names or any(p.name.startswith(n) for n in args.names))
    OUT.mkdir(parents=True, exist_ok=True)
    # JupyterLab autosaves what it runs: serve copies, so the committed notebooks stay without outputs.
    served = ROOT / "build" / "capture"
    shutil.rmtree(served, ignore_errors=True)
    shutil.copytree(ROOT / "notebooks", served / "notebooks")
    shots: list[Shot] = []
    with jupyter_lab(free_port(), smoke=not args.full, root=served) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        version = f"Chromium {browser.version}"
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        for name in notebooks:
            print(f"{name}: running in JupyterLab ...", flush=True)
            page.goto(f"{url}/lab/tree/notebooks/{name}")
            start = time.perf_counter()
            run_all(page, name, args.timeout)
            print(f"  ran in {time.perf_counter() - start:.0f} s", flush=True)
            shots += capture(page, name, OUT, args.settle, "full" if args.full else "smoke", version)
            close_notebook(page)
        browser.close()
    write_index(shots, OUT)
    unchanged = [f"{s.notebook} #{s.index}" for s in shots if not s.changed]
    print(f"{len(shots)} widgets captured in {OUT}; unresponsive: {unchanged or 'none'}")
    return 1 if unchanged or not shots else 0


if __name__ == "__main__":
    sys.exit(main())

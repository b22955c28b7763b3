"""Opening a report in the browser the way a user would, with the network cut off."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOCAL = ("file:", "data:")

# Per figure div: plotly's SVG, and how many traces were drawn into it.
_FIGURES = """ids => ids.map(id => {
  const div = document.getElementById(id);
  if (!div) return [id, false, 0];
  const svg = div.querySelector('svg.main-svg');
  const drawn = div.querySelectorAll('.cartesianlayer g.trace, .cartesianlayer g.hm image');
  return [id, svg !== null, drawn.length];
})"""


@dataclass
class Opened:
    """What the page did: its state object, requests, errors and drawn figures."""

    state: dict[str, Any]
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    figures: dict[str, tuple[bool, int]] = field(default_factory=dict)
    canvases: int = 0
    text: str = ""
    page: Any = None

    def remote(self) -> list[str]:
        return [u for u in self.requests if not u.startswith(LOCAL)]


def open_report(browser: Any, path: Path, screenshot: Path, expected: list[str]) -> Opened:
    """Open `path` offline; every request is recorded and only file:/data: ones go through."""
    context = browser.new_context(offline=True, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    opened = Opened(state={}, page=page)
    page.on("request", lambda r: opened.requests.append(r.url))
    page.on("pageerror", lambda e: opened.errors.append(f"pageerror: {e}"))
    page.on(
        "console",
        lambda m: opened.errors.append(f"console: {m.text}") if m.type == "error" else None,
    )

    def gate(route: Any) -> None:
        if route.request.url.startswith(LOCAL):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", gate)
    page.goto(path.resolve().as_uri())
    page.wait_for_function(
        "() => window.__STRATOPT_REPORT__ && window.__STRATOPT_REPORT__.ready", timeout=90_000
    )
    opened.state = page.evaluate("() => window.__STRATOPT_REPORT__")
    opened.figures = {i: (svg, n) for i, svg, n in page.evaluate(_FIGURES, expected)}
    opened.canvases = page.evaluate("() => document.querySelectorAll('canvas').length")
    opened.text = page.inner_text("main")
    page.screenshot(path=str(screenshot), full_page=True)
    return opened


def assert_rendered(opened: Opened, expected: list[str]) -> None:
    """ready, no JavaScript error, no request off the machine, every figure drawn as SVG."""
    assert opened.state["ready"] is True
    assert opened.state["errors"] == [] and opened.errors == []
    assert opened.remote() == [], opened.remote()
    assert any(u.startswith("file:") for u in opened.requests)
    missing = [i for i in expected if not opened.figures[i][0] or opened.figures[i][1] == 0]
    assert missing == [], f"figures without drawn SVG: {missing}"
    assert sorted(opened.state["plots"]) == sorted(expected)
    assert opened.canvases == 0  # SVG only: a WebGL trace would add a <canvas>

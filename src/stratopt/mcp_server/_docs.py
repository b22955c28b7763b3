"""The docs resources: `stratopt://docs/{metrics,overfitting,walk_forward}`.

The project's own pages (docs/metrics.md, and the sections of docs/validation.md on
the overfitting statistics and walk-forward), read when asked, so an agent learns from
the same text a user reads what a DSR of 0.7 means.
"""

from __future__ import annotations

import functools
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

__all__ = ["DOCS", "DOCS_DIR", "doc_text", "register_docs"]

# The repository's docs/ (an editable or source install; a wheel does not carry them).
DOCS_DIR = Path(__file__).resolve().parents[3] / "docs"

# topic: (file, the section's heading or None for the whole page, description)
DOCS: dict[str, tuple[str, str | None, str]] = {
    "metrics": ("metrics.md", None, "Every metric: definition, formula, conventions."),
    "overfitting": (
        "validation.md",
        "## Overfitting statistics",
        "PSR, DSR, MinTRL, MinBTL, PBO, SPA: what they mean and how they are computed.",
    ),
    "walk_forward": (
        "validation.md",
        "## Walk-forward",
        "Walk-forward windows, the stitched out-of-sample curve, efficiency, drift.",
    ),
}


def doc_text(topic: str) -> str:
    """The page or section of `topic` (ResourceError when the docs are not installed)."""
    file, heading, _ = DOCS[topic]
    try:
        text = (DOCS_DIR / file).read_text(encoding="utf-8")
    except OSError as exc:
        raise ResourceError(f"stratopt's docs are not available here ({exc})") from None
    if heading is None:
        return text
    start = text.index(heading + "\n")
    end = text.find("\n## ", start + len(heading))
    return text[start:] if end < 0 else text[start : end + 1]


def register_docs(server: MCPServer) -> None:
    """Add the docs resources to `server`."""
    for topic, (_, _, description) in DOCS.items():
        server.resource(
            f"stratopt://docs/{topic}",
            name=f"docs-{topic}",
            description=description,
            mime_type="text/markdown",
        )(functools.partial(doc_text, topic))

"""Renderers: text (plain or rich), markdown (pull requests), json (canonical). They only read a Plan."""

from reconciler.plan.render.json import render_json
from reconciler.plan.render.markdown import render_markdown
from reconciler.plan.render.text import render_rich, render_text

__all__ = ["render_json", "render_markdown", "render_rich", "render_text"]

"""Task instructions are Markdown written by process owners: rendered with raw HTML switched off, so
what they type can format text but never add a script, a form or a javascript: link."""

from flask import Flask
from markdown_it import MarkdownIt
from markupsafe import Markup

_renderer = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render(text: str | None) -> Markup:
    return Markup(_renderer.render(text or "").strip())  # noqa: S704 - html is off: every tag in the text is escaped


def init_app(app: Flask) -> None:
    app.add_template_filter(render, "markdown")

"""Every user-facing sentence lives in content/templates (jinja2), so a province edits words, not code."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from core.render import escape


class Md(str):
    """Markdown-subset source a chat template may output as is (``{{ answer|md }}``): pack text only."""


def literal(value: object) -> object:
    """What every ``{{ ... }}`` of a chat template outputs: strings shown literally (Markdown-escaped),
    unless marked :class:`Md`; other values (numbers, dates) are left to jinja2."""
    if isinstance(value, Md) or not isinstance(value, str):
        return value
    return escape(value)


def md(value: object) -> Md:
    """``|md``: the value is Markdown-subset source from the content pack (an FAQ answer, a bulletin
    section). Never for what citizens or officials write in the chat."""
    return value if isinstance(value, Md) else Md("" if value is None else str(value))


def upper_first(value: object) -> str:
    """Capitalise only the first letter: jinja's `capitalize` lower-cases the rest ("Tỉnh quảng ngãi")."""
    text = str(value)
    return text[:1].upper() + text[1:]


def install_filters(env: jinja2.Environment) -> None:
    """Filters every environment rendering pack templates gets (chat texts and web pages alike)."""
    env.filters["upper_first"] = upper_first


class Texts:
    """Renders `templates/<name>.j2` with the pack in scope; button labels come from `labels.yaml`.

    The output is Markdown-subset source; every variable is shown literally (``finalize=literal``: a
    display name ``**An**`` stays ``**An**``), except those marked ``|md`` (pack Markdown fragments)."""

    def __init__(self, template_dir: Path, globals_: dict[str, Any], labels: dict[str, str]) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(template_dir)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # output is our Markdown subset; adapters escape for their platform
            finalize=literal,  # ...and variables are literal text in it (Markdown-escaped)
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self.env.globals.update(globals_)
        install_filters(self.env)
        self.env.filters["md"] = md
        self.labels = labels
        self._cache: dict[str, jinja2.Template] = {}

    def render(self, name: str, /, **context: Any) -> str:
        template = self._cache.get(name)
        if template is None:
            template = self._cache[name] = self.env.get_template(f"{name}.j2")
        return template.render(**context).strip()

    def render_string(self, source: str, **context: Any) -> str:
        """A pack Markdown fragment (an FAQ answer) rendered as a template: the result is :class:`Md`."""
        return Md(self.env.from_string(source).render(**context).strip())

    def label(self, key: str) -> str:
        return self.labels[key]

    def names(self) -> list[str]:
        return sorted(n[:-3] for n in self.env.list_templates(extensions=["j2"]))

"""Every table an official sees on the dashboard's list pages names its columns in a header row."""
from __future__ import annotations

from html.parser import HTMLParser

from tests.dashboard.helpers import add_official, dashboard_client, login

PAGES = ("/dashboard/", "/dashboard/bulletins", "/dashboard/unanswered", "/dashboard/stats")


class Tables(HTMLParser):
    """Each <table> of a page: whether it has a <thead>, and the text of its header cells."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[dict] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self.tables.append({"id": dict(attrs).get("class") or dict(attrs).get("id"), "thead": False, "th": []})
        elif tag == "thead" and self.tables:
            self.tables[-1]["thead"] = True
        elif tag == "th":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "th" and self._cell is not None and self.tables:
            self.tables[-1]["th"].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


async def test_every_dashboard_table_has_vietnamese_column_headers(bot) -> None:
    await add_official(bot, "quan.tri", "ttphhc", "admin")
    async with dashboard_client(bot) as client:
        await login(client, "quan.tri")
        seen = 0
        for path in PAGES:
            response = await client.get(path)
            assert response.status == 200, path
            parser = Tables()
            parser.feed(await response.text())
            for table in parser.tables:
                seen += 1
                assert table["thead"] and table["th"], (path, table)
                assert all(table["th"]), (path, table)  # no blank header cell: each column is named
    assert seen >= 3

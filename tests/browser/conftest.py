"""Fixtures for the editor's end-to-end tests: the real server (``flowengine.testing.serving``)
on a free port and Debian's Chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, async_playwright

from flowengine.testing import Served, serving

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
VIEWPORT = {"width": 1400, "height": 820}
HAVE_CHROMIUM = CHROMIUM.exists()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not HAVE_CHROMIUM:
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


class Editor:
    """A page showing the editor, with helpers that act like a person would (mouse and keyboard)."""

    def __init__(self, page: Page, served: Served, errors: list[str]) -> None:
        self.page = page
        self.served = served
        self.errors = errors

    async def state(self) -> Any:
        """The editor's state (document, selection, revision) as plain data."""
        return await self.page.evaluate(
            "() => { const s = window.flowengine.state; return {doc: s.doc, selection: s.selection, revision: s.revision, activeFlow: s.activeFlow, canUndo: s.past.length > 0}; }"
        )

    async def node_ids(self) -> list[str]:
        return [n["id"] for n in (await self.state())["doc"]["nodes"]]

    async def canvas_point(self, x: float, y: float) -> tuple[float, float]:
        box = await self.page.locator(".canvas-svg").bounding_box()
        assert box is not None
        return box["x"] + x, box["y"] + y

    async def drag_from_palette(self, node_type: str, x: float, y: float) -> str:
        """Drag a palette entry to canvas point (x, y); returns the new node's id."""
        before = set(await self.node_ids())
        item = self.page.locator(f'.palette-node[data-type="{node_type}"]')
        await item.scroll_into_view_if_needed()
        box = await item.bounding_box()
        assert box is not None
        await self.page.mouse.move(box["x"] + 20, box["y"] + box["height"] / 2)
        await self.page.mouse.down()
        target = await self.canvas_point(x, y)
        await self.page.mouse.move(*target, steps=8)
        await self.page.mouse.up()
        added = [i for i in await self.node_ids() if i not in before]
        assert len(added) == 1, added
        return added[0]

    def node(self, node_id: str) -> Any:
        return self.page.locator(f'.node[data-id="{node_id}"]')

    async def center(self, selector: str) -> tuple[float, float]:
        box = await self.page.locator(selector).bounding_box()
        assert box is not None, selector
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    async def wire(self, source: str, port: int, target: str) -> None:
        """Draw a wire by dragging from an output port to the target node's input port."""
        await self.page.mouse.move(*await self.center(f'.node[data-id="{source}"] .port-out[data-port="{port}"]'))
        await self.page.mouse.down()
        await self.page.mouse.move(*await self.center(f'.node[data-id="{target}"] .port-in'), steps=6)
        await self.page.mouse.up()

    async def drag_node(self, node_id: str, dx: float, dy: float, steps: int = 8) -> None:
        x, y = await self.center(f'.node[data-id="{node_id}"] .node-body')
        await self.page.mouse.move(x, y)
        await self.page.mouse.down()
        await self.page.mouse.move(x + dx, y + dy, steps=steps)
        await self.page.mouse.up()

    async def edit(self, node_id: str) -> Any:
        """Open a node's edit dialog (double-click) and return its locator."""
        await self.page.mouse.dblclick(*await self.center(f'.node[data-id="{node_id}"] .node-body'))
        dialog = self.page.locator(f'dialog.node-dialog[data-node="{node_id}"]')
        await dialog.wait_for()
        return dialog

    async def deploy(self) -> None:
        await self.page.locator("button.deploy").click()

    async def shot(self, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        await self.page.screenshot(path=str(path))
        return path

    async def server_document(self) -> Any:
        revision, document = self.served.deployer.current()
        return revision, json.loads(json.dumps(document))


def _unexpected(kind: str, text: str, allow_unauthorized: bool = False) -> bool:
    """Console errors fail a test, except the browser's note on API answers 400/409 the editor
    handles (and 401 for the page's preloads when the token comes in the URL)."""
    statuses = "00|09|01" if allow_unauthorized else "00|09"
    return kind == "error" and not re.match(rf"Failed to load resource: the server responded with a status of 4({statuses})", text)


@pytest.fixture
def open_editor(browser: Browser, tmp_path: Path) -> Callable[..., AbstractAsyncContextManager[Editor]]:
    """``async with open_editor(document, extra_types=[...]) as editor:`` serves ``document`` and
    opens the editor on it. Fails the test on any uncaught error in the page."""
    SCREENSHOTS.mkdir(exist_ok=True)

    @asynccontextmanager
    async def open_(document: Any, query: str = "", allow_unauthorized: bool = False, **options: Any) -> AsyncIterator[Editor]:
        async with serving(document, tmp_path, **options) as served:
            context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: errors.append(message.text)
                    if _unexpected(message.type, message.text, allow_unauthorized) else None)
            page.set_default_timeout(10_000)
            await page.goto(served.url + query)
            await page.wait_for_selector("body[data-ready]")
            try:
                yield Editor(page, served, errors)
            finally:
                await context.close()
            assert errors == [], errors

    return open_

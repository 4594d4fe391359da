"""End-to-end tests of the browser editor in headless Chromium against the real server."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any, ClassVar

import pytest
from playwright.async_api import expect

from flowengine.message import Message
from flowengine.node import Node
from flowengine.types import JSONObject

pytestmark = pytest.mark.browser


class StatusProbe(Node):
    """Test-only sink: counts the messages it receives and shows ``seen <n>`` as its status."""

    type = "status-probe"
    category = "sink"
    outputs = 0
    schema: ClassVar[JSONObject] = {"type": "object", "additionalProperties": False, "properties": {}}

    async def start(self) -> None:
        self.seen = 0
        self.status("waiting", color="yellow")

    async def on_message(self, msg: Message) -> None:
        self.seen += 1
        self.status(f"seen {self.seen}", color="green")


def document(*nodes: dict[str, Any], flows: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "version": 1,
        "flows": flows or [{"id": "f1", "label": "Main"}],
        "nodes": [{"flow": "f1", "name": "", "config": {}, "wires": [], "x": 100, "y": 100, **n} for n in nodes],
    }


INJECT_TO_DEBUG = document(
    {"id": "n1", "type": "inject", "name": "tick", "x": 100, "y": 100, "wires": [["n2"]], "config": {"payload": 1}},
    {"id": "n2", "type": "debug", "name": "out", "x": 340, "y": 100},
)


async def test_build_edit_deploy_inject_and_see_debug(open_editor: Any) -> None:
    async with open_editor(None) as editor:
        page = editor.page
        await expect(page.locator(".canvas-empty")).to_be_visible()
        inject = await editor.drag_from_palette("inject", 200, 200)
        debug = await editor.drag_from_palette("debug", 500, 260)
        state = await editor.state()
        assert len(state["doc"]["flows"]) == 1, "the first node creates a flow"
        await editor.wire(inject, 0, debug)
        state = await editor.state()
        nodes = {n["id"]: n for n in state["doc"]["nodes"]}
        assert nodes[inject]["wires"] == [[debug]]
        assert nodes[inject]["x"] % 20 == 0 and nodes[inject]["y"] % 20 == 0, "snapped to the grid"
        await expect(page.locator(f'.wire[data-source="{inject}"][data-target="{debug}"]')).to_have_count(1)
        # Backwards too: from an input port to an output port.
        change = await editor.drag_from_palette("change", 360, 400)
        await page.mouse.move(*await editor.center(f'.node[data-id="{change}"] .port-in'))
        await page.mouse.down()
        await page.mouse.move(*await editor.center(f'.node[data-id="{inject}"] .port-out'), steps=5)
        await page.mouse.up()
        await expect(page.locator(f'.wire[data-source="{inject}"][data-target="{change}"]')).to_have_count(1)
        await page.keyboard.press("Control+z")
        await page.keyboard.press("Control+z")
        await expect(page.locator(f'.node[data-id="{change}"]')).to_have_count(0)

        dialog = await editor.edit(inject)
        await dialog.get_by_label("Name", exact=True).fill("hello source")
        payload = dialog.locator('.field[data-name="payload"]')
        await payload.get_by_label("Value type").select_option("json")
        await payload.locator("textarea").fill('{"hello": "world", "list": [1, 2, 3]}')
        await dialog.get_by_label("Topic").fill("greeting")
        await editor.shot("edit-inject")
        await dialog.get_by_role("button", name="Done").click()
        await expect(dialog).to_have_count(0)
        await expect(editor.node(inject).locator(".node-label")).to_have_text("hello source")
        await expect(editor.node(inject)).to_have_class(re.compile(r"\bchanged\b"))

        deploy = page.locator("button.deploy")
        await expect(deploy).to_have_class(re.compile(r"\bdirty\b"))
        await expect(deploy).to_have_accessible_name("Deploy 2 changed nodes")
        await editor.deploy()
        await expect(page.locator(".toast")).to_contain_text("Deployed revision 1")
        await expect(deploy).not_to_have_class(re.compile(r"\bdirty\b"))
        await expect(page.locator(".node.changed")).to_have_count(0)
        revision, deployed = await editor.server_document()
        assert revision == 1
        by_id = {n["id"]: n for n in deployed["nodes"]}
        assert by_id[inject]["config"]["payload"] == {"hello": "world", "list": [1, 2, 3]}
        assert by_id[inject]["config"]["topic"] == "greeting"

        await editor.node(inject).locator(".node-button").click()
        message = page.locator(".debug-message").first
        await expect(message).to_be_visible()
        await expect(message.locator(".debug-topic")).to_have_text("topic: greeting")
        await expect(message.locator(".debug-source")).to_have_accessible_name(f"Reveal node {debug}")
        await message.locator("summary").first.click()
        await expect(message.locator(".json-children")).to_contain_text('hello: "world"')
        await editor.shot("deployed-and-injected")


async def test_live_status_and_counters(open_editor: Any) -> None:
    doc = document(
        {"id": "n1", "type": "inject", "x": 100, "y": 100, "wires": [["p1"]], "config": {"payload": "x"}},
        {"id": "p1", "type": "status-probe", "x": 340, "y": 100},
    )
    async with open_editor(doc, extra_types=[StatusProbe]) as editor:
        status = editor.node("p1").locator(".node-status")
        await expect(status.locator("text")).to_have_text("waiting")
        await expect(status).to_have_attribute("data-color", "yellow")
        await editor.node("n1").locator(".node-button").click()
        await expect(status.locator("text")).to_have_text("seen 1")
        await expect(status).to_have_attribute("data-color", "green")
        await editor.page.get_by_role("button", name="inject (inject)").locator(".node-button").click()
        await expect(status.locator("text")).to_have_text("seen 2")
        # Counters on hover (the node's title), refreshed from /api/status.
        await expect(editor.node("p1").locator("title")).to_contain_text("received 2", timeout=8000)
        await editor.shot("status")


async def test_validation_error_shown_on_its_node(open_editor: Any) -> None:
    async with open_editor(INJECT_TO_DEBUG) as editor:
        page = editor.page
        dialog = await editor.edit("n1")
        await dialog.get_by_label("Cron").fill("every minute")
        await dialog.get_by_role("button", name="Done").click()
        await editor.deploy()
        await expect(page.locator(".toast-error")).to_contain_text("Not deployed: 1 problem")
        await expect(editor.node("n1")).to_have_class(re.compile(r"has-problems"))
        await expect(editor.node("n1").locator("title")).to_contain_text("not a valid cron expression")
        problems = page.locator("#problems")
        await expect(problems).to_be_visible()
        await expect(problems.locator(".problem")).to_have_count(1)
        await expect(problems.locator(".problem")).to_contain_text("/config/cron")
        await editor.shot("validation-problem")
        await problems.get_by_role("button", name="Show node n1 (inject)").click()
        dialog = page.locator('dialog.node-dialog[data-node="n1"]')
        cron = dialog.locator('.field[data-name="cron"]')
        await expect(cron.locator(".field-error")).to_contain_text("not a valid cron expression")
        await expect(cron.locator("input")).to_have_attribute("aria-invalid", "true")
        await editor.shot("validation-inline")
        await cron.locator("input").fill("*/5 * * * *")
        await dialog.get_by_role("button", name="Done").click()
        await editor.deploy()
        await expect(page.locator(".toast").last).to_contain_text("Deployed revision 2")
        await expect(page.locator(".node.has-problems")).to_have_count(0)
        # A client-side problem (not a number) is shown before anything is sent.
        dialog = await editor.edit("n1")
        await dialog.get_by_label("Repeat every (s)").fill("")
        await dialog.get_by_label("Repeat every (s)").press_sequentially("1e")
        await dialog.get_by_role("button", name="Done").click()
        await expect(dialog).to_be_visible()


async def test_undo_redo_move_delete_copy_paste(open_editor: Any) -> None:
    async with open_editor(INJECT_TO_DEBUG) as editor:
        page = editor.page
        start = {n["id"]: (n["x"], n["y"]) for n in (await editor.state())["doc"]["nodes"]}
        # Mid-drag the node and its wire are drawn in the overlay, aligned with the rest.
        x, y = await editor.center('.node[data-id="n1"] .node-body')
        await page.mouse.move(x, y)
        await page.mouse.down()
        await page.mouse.move(x + 60, y + 40, steps=4)
        await expect(page.locator('.canvas-overlay .node[data-id="n1"]')).to_have_count(1)
        await expect(page.locator('.canvas-overlay .wire[data-source="n1"]')).to_have_count(1)
        await editor.shot("mid-drag")
        await page.mouse.move(x + 120, y + 80, steps=4)
        await page.mouse.up()
        await expect(page.locator(".canvas-overlay .node, .canvas-overlay .wire")).to_have_count(0)
        await expect(page.locator('.canvas-svg .node[data-id="n1"]')).to_have_count(1)
        moved = {n["id"]: (n["x"], n["y"]) for n in (await editor.state())["doc"]["nodes"]}
        assert moved["n1"] != start["n1"] and moved["n1"][0] % 20 == 0 and moved["n1"][1] % 20 == 0
        await page.keyboard.press("Control+z")
        assert {n["id"]: (n["x"], n["y"]) for n in (await editor.state())["doc"]["nodes"]} == start
        await page.keyboard.press("Control+Shift+z")
        assert {n["id"]: (n["x"], n["y"]) for n in (await editor.state())["doc"]["nodes"]}["n1"] == moved["n1"]

        await editor.node("n2").locator(".node-body").click()
        await page.keyboard.press("Delete")
        state = await editor.state()
        assert [n["id"] for n in state["doc"]["nodes"]] == ["n1"]
        assert state["doc"]["nodes"][0]["wires"] == [[]]
        await page.get_by_role("button", name="Undo").click()
        state = await editor.state()
        assert {n["id"]: n["wires"] for n in state["doc"]["nodes"]} == {"n1": [["n2"]], "n2": []}
        await page.get_by_role("button", name="Redo").click()
        assert await editor.node_ids() == ["n1"]
        await page.keyboard.press("Control+z")

        # Rubber band around both nodes, copy, paste: two new nodes wired like the originals.
        await page.mouse.move(*await editor.canvas_point(5, 5))
        await page.mouse.down()
        await page.mouse.move(*await editor.canvas_point(800, 500), steps=5)
        await page.mouse.up()
        assert sorted((await editor.state())["selection"]) == ["n1", "n2"]
        await page.keyboard.press("Control+c")
        await page.keyboard.press("Control+v")
        state = await editor.state()
        pasted = {n["id"]: n for n in state["doc"]["nodes"] if n["id"] in state["selection"]}
        assert len(pasted) == 2 and not {"n1", "n2"} & set(pasted)
        source = next(n for n in pasted.values() if n["type"] == "inject")
        target = next(n for n in pasted.values() if n["type"] == "debug")
        assert source["wires"] == [[target["id"]]]
        # Cut and undo.
        await page.keyboard.press("Control+x")
        assert len(await editor.node_ids()) == 2
        await page.keyboard.press("Control+z")
        assert len(await editor.node_ids()) == 4
        # A wire: click it, delete it.
        await page.locator('.wire[data-source="n1"] .wire-hit').click(force=True)
        await expect(page.locator(".wire.selected")).to_have_count(1)
        await page.keyboard.press("Delete")
        await expect(page.locator('.wire[data-source="n1"]')).to_have_count(0)
        await editor.shot("undo-redo")


async def test_import_then_export(open_editor: Any) -> None:
    async with open_editor(INJECT_TO_DEBUG) as editor:
        page = editor.page
        incoming = {
            "version": 1,
            "flows": [{"id": "fx", "label": "Imported flow", "disabled": False}],
            "nodes": [
                {"id": "n1", "type": "inject", "flow": "fx", "name": "clash", "x": 60, "y": 60, "wires": [["q2"]], "config": {"payload": 5}},
                {"id": "q2", "type": "change", "flow": "fx", "name": "", "x": 260, "y": 60, "wires": [["q3"]],
                 "config": {"rules": [{"action": "set", "path": "topic", "value": "t"}]}},
                {"id": "q3", "type": "debug", "flow": "fx", "name": "", "x": 460, "y": 60, "wires": [], "config": {}},
            ],
        }
        await page.get_by_role("button", name="Import nodes").click()
        dialog = page.locator("dialog.import-dialog")
        # A file fills the text box.
        await dialog.get_by_label("or a file").set_input_files(
            files=[{"name": "flow.json", "mimeType": "application/json", "buffer": json.dumps(incoming).encode()}])
        await expect(dialog.get_by_label("Flow JSON")).to_have_value(json.dumps(incoming))
        await dialog.get_by_label("Flow JSON").fill("{ not json")
        await dialog.get_by_role("button", name="Import").click()
        await expect(dialog.locator(".field-error")).to_contain_text("not valid JSON")
        await dialog.get_by_label("Flow JSON").fill(json.dumps(incoming))
        await dialog.get_by_label("new flow").check()
        await dialog.get_by_role("button", name="Import").click()
        await expect(dialog).to_have_count(0)
        await expect(page.locator(".tab.active .tab-label")).to_have_text("Imported flow")
        state = await editor.state()
        imported = [n for n in state["doc"]["nodes"] if n["flow"] == state["activeFlow"]]
        ids = {n["name"] or n["id"]: n["id"] for n in imported}
        assert ids["clash"] != "n1", "a clashing id gets a new id"
        assert ids["q2"] == "q2" and ids["q3"] == "q3"
        clash = next(n for n in imported if n["name"] == "clash")
        assert clash["wires"] == [["q2"]]

        await page.keyboard.press("Control+e")
        export = page.locator("dialog.export-dialog")
        await expect(export.get_by_label("selected nodes")).to_be_checked()  # the imported nodes are selected
        await export.get_by_label("current flow").check()
        exported = json.loads(await export.get_by_label("Flow JSON").input_value())
        assert [f["label"] for f in exported["flows"]] == ["Imported flow"]

        def shape(doc: dict[str, Any]) -> list[Any]:
            names = {n["id"]: n["name"] or n["id"] for n in doc["nodes"]}
            return sorted((n["name"] or n["id"], n["type"], n["config"], [[names[t] for t in port] for port in n["wires"]]) for n in doc["nodes"])

        assert shape(exported) == shape(incoming)
        await export.get_by_label("all flows").check()
        everything = json.loads(await export.get_by_label("Flow JSON").input_value())
        assert len(everything["nodes"]) == 5 and len(everything["flows"]) == 2
        await page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        await export.get_by_role("button", name="Copy to clipboard").click()
        await expect(export.locator(".field-help")).to_have_text("Copied to the clipboard.")
        assert json.loads(await page.evaluate("() => navigator.clipboard.readText()")) == everything
        async with page.expect_download() as download_info:
            await export.get_by_role("button", name="Download").click()
        download = await download_info.value
        assert download.suggested_filename == "flows-all.json"
        saved = await asyncio.to_thread(Path(str(await download.path())).read_text, encoding="utf-8")
        assert json.loads(saved) == everything
        await editor.shot("export")


async def test_deploy_conflict_overwrite_or_reload(open_editor: Any) -> None:
    async with open_editor(INJECT_TO_DEBUG) as editor:
        page = editor.page
        theirs = json.loads(json.dumps(INJECT_TO_DEBUG))
        theirs["nodes"][1]["name"] = "someone else's"
        revision, _ = await editor.served.deployer.deploy(theirs, 1)
        assert revision == 2
        await editor.drag_node("n1", 0, 100)
        await editor.deploy()
        conflict = page.locator("dialog.conflict-dialog")
        await expect(conflict).to_contain_text("revision 2")
        await editor.shot("conflict")
        await conflict.get_by_role("button", name="Overwrite").click()
        await expect(page.locator(".toast").last).to_contain_text("Deployed revision 3")
        revision, deployed = await editor.server_document()
        assert revision == 3
        assert {n["id"]: n["name"] for n in deployed["nodes"]}["n2"] == "out", "ours won"

        theirs["nodes"][1]["name"] = "theirs again"
        await editor.served.deployer.deploy(theirs, 3)
        await editor.drag_node("n2", 0, 100)
        await editor.deploy()
        await conflict.get_by_role("button", name="Reload theirs").click()
        await expect(editor.node("n2").locator(".node-label")).to_have_text("theirs again")
        state = await editor.state()
        assert state["revision"] == 4
        await expect(page.locator(".node.changed")).to_have_count(0)


async def test_debug_sidebar_keeps_1000_filter_pause_clear_reveal(open_editor: Any) -> None:
    doc = document(
        {"id": "n1", "type": "inject", "x": 100, "y": 100, "wires": [["d1", "d2"]], "config": {"payload": {"n": 1}}},
        {"id": "d1", "type": "debug", "name": "first", "x": 340, "y": 60},
        {"id": "d2", "type": "debug", "name": "second", "x": 340, "y": 160},
    )
    async with open_editor(doc) as editor:
        page = editor.page
        runtime = editor.served.runtime
        for _ in range(600):
            await runtime.inject("n1")
        count = page.locator(".debug-count")
        await expect(count).to_have_text("1000 messages")
        await expect(page.locator(".debug-message")).to_have_count(1000)
        await page.get_by_label("Show messages from").select_option(label="second")

        async def kept_from(node_id: str) -> int:
            return int(await page.evaluate(f"() => window.flowengine.debug.entries.filter((e) => e.node === '{node_id}').length"))

        shown = await kept_from("d2")
        assert shown >= 400
        await expect(count).to_have_text(f"{shown} messages")
        await expect(page.locator(".debug-message")).to_have_count(shown)
        await page.get_by_role("button", name="Pause").click()
        await runtime.inject("n1")
        await expect(page.locator(".debug-pause")).to_have_text("Resume (2 new)")
        await expect(count).to_have_text(f"{shown} messages")
        await page.locator(".debug-pause").click()
        await expect(page.locator(".debug-pause")).to_have_text("Pause")
        await expect(count).to_have_text(f"{await kept_from('d2')} messages")
        assert await page.evaluate("() => window.flowengine.debug.entries.length") == 1000
        last = page.locator(".debug-message").last
        await expect(last.locator(".debug-source")).to_have_text("second")
        await last.locator(".debug-source").click()
        assert (await editor.state())["selection"] == ["d2"]
        await editor.shot("debug-sidebar")
        await page.get_by_role("button", name="Clear debug messages").click()
        await expect(count).to_have_text("0 messages")


async def test_quick_add_tabs_zoom_and_shortcuts(open_editor: Any) -> None:
    async with open_editor(INJECT_TO_DEBUG) as editor:
        page = editor.page
        # Quick-add by typing, with the inject node selected: the new node is wired to it.
        await editor.node("n1").locator(".node-body").click()
        await page.mouse.move(*await editor.canvas_point(500, 400))
        await page.keyboard.type("chan")
        box = page.get_by_role("combobox", name="Add a node: type its name")
        await expect(box).to_have_value("chan")
        await expect(page.locator(".quick-add-list li").first).to_contain_text("change")
        await editor.shot("quick-add")
        await page.keyboard.press("Enter")
        state = await editor.state()
        added = next(n for n in state["doc"]["nodes"] if n["type"] == "change")
        n1 = next(n for n in state["doc"]["nodes"] if n["id"] == "n1")
        assert added["id"] in n1["wires"][0]
        await page.keyboard.press("Control+z")
        assert "change" not in [n["type"] for n in (await editor.state())["doc"]["nodes"]], "one undo step"

        # Tabs: add, rename and disable, delete.
        await page.get_by_role("button", name="Add flow").click()
        await expect(page.locator(".tab")).to_have_count(2)
        await page.get_by_role("button", name="Properties of flow Flow 2").click()
        dialog = page.locator("dialog.flow-dialog")
        await dialog.get_by_label("Name").fill("Second")
        await dialog.get_by_label("Enabled").uncheck()
        await dialog.get_by_role("button", name="Done").click()
        await expect(page.locator(".tab.active")).to_have_class(re.compile("disabled"))
        await expect(page.get_by_role("tab", name="Second")).to_have_attribute("aria-selected", "true")
        await page.get_by_role("button", name="Properties of flow Second").click()
        await dialog.get_by_role("button", name="Delete flow").click()
        await expect(page.locator(".tab")).to_have_count(1)

        # Zoom buttons and fit.
        canvas = page.locator("#canvas")
        await page.get_by_role("button", name="Zoom in").click()
        await expect(canvas).to_have_attribute("data-zoom", "1.25")
        await page.get_by_role("button", name="Zoom to 100%").click()
        await expect(canvas).to_have_attribute("data-zoom", "1.00")
        await page.get_by_role("button", name="Zoom out").click()
        await expect(canvas).to_have_attribute("data-zoom", "0.80")
        await page.get_by_role("button", name="Zoom to fit").click()
        await expect(canvas).to_have_attribute("data-zoom", "1.00")
        # Auto-layout puts the wired nodes left to right on one row.
        await editor.drag_node("n2", -200, 200)
        await page.get_by_role("button", name="Auto-layout this flow").click()
        nodes = {n["id"]: n for n in (await editor.state())["doc"]["nodes"]}
        assert nodes["n1"]["x"] < nodes["n2"]["x"] and nodes["n1"]["y"] == nodes["n2"]["y"]
        # Select all, shortcuts help.
        await page.locator(".canvas-svg").focus()
        await page.keyboard.press("Control+a")
        assert sorted((await editor.state())["selection"]) == ["n1", "n2"]
        await page.keyboard.press("?")
        await expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
        await page.keyboard.press("Escape")
        # Every button has an accessible name.
        unnamed = await page.evaluate("""() => [...document.querySelectorAll('button, [role=button], input, select, textarea')]
            .filter((el) => el.offsetParent !== null || el.closest('svg'))
            .filter((el) => !(el.getAttribute('aria-label') || el.textContent.trim() || el.labels?.length || el.getAttribute('title')))
            .map((el) => el.outerHTML.slice(0, 80))""")
        assert unnamed == []


async def test_config_node_and_secrets(open_editor: Any) -> None:
    doc = document(
        {"id": "k1", "type": "mqtt-broker", "flow": None, "name": "local broker",
         "config": {"host": "127.0.0.1", "port": 1, "clientId": "editor-test", "password": "s3cret"}},
        {"id": "m1", "type": "mqtt-out", "x": 200, "y": 100, "config": {"broker": "k1", "topic": "t"}},
        flows=[{"id": "f1", "label": "Off", "disabled": True}],
    )
    async with open_editor(doc) as editor:
        page = editor.page
        await expect(page.locator('.node[data-id="k1"]')).to_have_count(0)  # config nodes are not drawn
        dialog = await editor.edit("m1")
        broker = dialog.locator('.field[data-name="broker"] select')
        await expect(broker).to_have_value("k1")
        await dialog.get_by_role("button", name="Edit mqtt-broker").click()
        nested = page.locator('dialog.node-dialog[data-node="k1"]')
        password = nested.locator('.field[data-name="password"] input')
        await expect(password).to_have_attribute("type", "password")
        await expect(password).to_have_value("*****")
        await editor.shot("config-node")
        await nested.get_by_label("Name", exact=True).fill("renamed broker")
        await nested.get_by_role("button", name="Done").click()
        await expect(nested).to_have_count(0)
        await expect(broker.locator("option:checked")).to_have_text("renamed broker")
        # Add a new broker from the select.
        await broker.select_option(label="Add new mqtt-broker…")
        fresh = page.locator("dialog.node-dialog").nth(1)
        await fresh.get_by_label("Name", exact=True).fill("second broker")
        await fresh.get_by_label("Host").fill("127.0.0.1")
        await fresh.get_by_label("Port").fill("1")
        await fresh.get_by_label("Client id").fill("editor-test-2")
        await fresh.get_by_role("button", name="Done").click()
        await expect(broker.locator("option:checked")).to_have_text("second broker")
        await dialog.get_by_role("button", name="Done").click()
        state = await editor.state()
        nodes = {n["id"]: n for n in state["doc"]["nodes"]}
        new_broker = nodes["m1"]["config"]["broker"]
        assert nodes[new_broker]["type"] == "mqtt-broker" and nodes[new_broker]["flow"] is None
        await page.keyboard.press("Control+e")
        export = page.locator("dialog.export-dialog")
        await export.get_by_label("all flows").check()
        text = await export.get_by_label("Flow JSON").input_value()
        assert "s3cret" not in text and "*****" not in text
        exported = {n["id"]: n for n in json.loads(text)["nodes"]}
        assert "password" not in exported["k1"]["config"] and exported["k1"]["config"]["host"] == "127.0.0.1"
        await page.keyboard.press("Escape")
        # Deploying the masked secret keeps the stored one.
        await editor.deploy()
        await expect(page.locator(".toast").last).to_contain_text("Deployed revision 2", timeout=3000)
        stored = editor.served.deployer.store.stored_secrets()
        assert "s3cret" in json.dumps(stored)


async def test_palette_filter_and_keyboard_add(open_editor: Any) -> None:
    async with open_editor(None) as editor:
        page = editor.page
        filter_box = page.get_by_label("Filter node types")
        await filter_box.fill("mqtt")
        await expect(page.locator(".palette-node")).to_have_count(2)
        await expect(page.locator(".palette-category h3")).to_have_text(["Sources", "Sinks"])
        await filter_box.fill("zzz-nothing")
        await expect(page.locator(".palette-node")).to_have_count(0)
        await filter_box.fill("")
        assert await page.locator(".palette-node").count() >= 10
        await page.get_by_role("button", name="Add debug node").focus()
        await page.keyboard.press("Enter")
        await expect(page.locator(".node")).to_have_count(1)
        await editor.shot("palette")


async def test_schema_form_arrays_enums_and_switch_outputs(open_editor: Any) -> None:
    doc = document(
        {"id": "s1", "type": "switch", "x": 200, "y": 100, "wires": [["d1"], []],
         "config": {"property": "payload.t", "rules": [{"op": ">", "value": 20}]}},
        {"id": "d1", "type": "debug", "x": 440, "y": 100},
    )
    async with open_editor(doc) as editor:
        page = editor.page
        await expect(editor.node("s1").locator(".port-out")).to_have_count(2)
        dialog = await editor.edit("s1")
        rules = dialog.locator('.field[data-name="rules"]')
        await expect(rules.locator(".array-item")).to_have_count(1)
        first = rules.locator(".array-item").nth(0)
        await expect(first.get_by_label("Test")).to_have_value("4")  # the index of ">" in the enum
        await expect(first.get_by_label("Value type")).to_have_value("number")
        await rules.get_by_role("button", name="Add to Rules").click()
        second = rules.locator(".array-item").nth(1)
        await second.get_by_label("Test").select_option(label="regex")
        await second.get_by_label("Value type").select_option("string")
        await second.locator("textarea").fill("^warn")
        await editor.shot("switch-form")
        await dialog.get_by_role("button", name="Done").click()
        await expect(editor.node("s1").locator(".port-out")).to_have_count(3)
        state = await editor.state()
        s1 = next(n for n in state["doc"]["nodes"] if n["id"] == "s1")
        assert s1["config"]["rules"] == [{"op": ">", "value": 20}, {"op": "regex", "value": "^warn"}]
        assert s1["wires"] == [["d1"], [], []], "existing wires stay on their ports"
        # Remove the first rule: one output less.
        dialog = await editor.edit("s1")
        await dialog.get_by_role("button", name="Remove item 1").click()
        await dialog.get_by_role("button", name="Done").click()
        await expect(editor.node("s1").locator(".port-out")).to_have_count(2)
        # Cancel keeps everything as it was.
        dialog = await editor.edit("s1")
        await dialog.get_by_label("Property").fill("changed")
        await dialog.get_by_role("button", name="Cancel").click()
        s1 = next(n for n in (await editor.state())["doc"]["nodes"] if n["id"] == "s1")
        assert s1["config"]["property"] == "payload.t"
        # Opening and closing with Done without changes is not an edit.
        before = (await editor.state())["doc"]
        dialog = await editor.edit("d1")
        await dialog.get_by_role("button", name="Done").click()
        assert (await editor.state())["doc"] == before
        await expect(editor.node("d1")).not_to_have_class(re.compile(r"\bchanged\b"))
        await expect(page.locator("dialog")).to_have_count(0)


async def test_pan_and_wheel_zoom(open_editor: Any) -> None:
    async with open_editor(INJECT_TO_DEBUG) as editor:
        page = editor.page
        canvas = page.locator("#canvas")
        before = await editor.center('.node[data-id="n1"] .node-body')
        # Alt+drag on the canvas pans.
        start = await editor.canvas_point(600, 600)
        await page.keyboard.down("Alt")
        await page.mouse.move(*start)
        await page.mouse.down()
        await page.mouse.move(start[0] + 100, start[1] + 50, steps=4)
        await page.mouse.up()
        await page.keyboard.up("Alt")
        after = await editor.center('.node[data-id="n1"] .node-body')
        assert (round(after[0] - before[0]), round(after[1] - before[1])) == (100, 50)
        # The wheel scrolls; Ctrl+wheel zooms around the pointer.
        await page.mouse.move(*start)
        await page.mouse.wheel(0, 40)
        scrolled = await editor.center('.node[data-id="n1"] .node-body')
        assert round(scrolled[1] - after[1]) == -40
        await page.keyboard.down("Control")
        await page.mouse.wheel(0, -200)
        await page.keyboard.up("Control")
        zoom = float(await canvas.get_attribute("data-zoom") or "0")
        assert zoom > 1.5
        # The document did not change: panning and zooming are views.
        assert (await editor.state())["canUndo"] is False


async def test_editor_with_an_api_token_in_the_url(open_editor: Any) -> None:
    """``serve --token``: the page, its API calls (Bearer header) and the event WebSocket
    (``?token=``) all carry the token given in the address."""
    async with open_editor(INJECT_TO_DEBUG, token="secret-token", query="?token=secret-token", allow_unauthorized=True) as editor:
        page = editor.page
        await expect(page.locator(".connection")).to_have_text("● live")
        await expect(page.locator(".toolbar .user")).to_contain_text("api token (admin)")
        await editor.node("n1").locator(".node-button").click()
        await expect(page.locator(".debug-message")).to_have_count(1)
        await editor.drag_node("n2", 0, 60)
        await editor.deploy()
        await expect(page.locator(".toast").last).to_contain_text("Deployed revision 2")
        await editor.shot("token")

"""template: sandboxed, time-limited Jinja2 rendering into a message field (JSON or text)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from flowengine.registry import Registry
from flowengine.testing import flow_document, running
from flowengine.validation import validate

REGISTRY = Registry.from_entry_points()
PAYLOAD = {"devEui": "70b3d57ed0000001", "decoded": {"temperature": 21.5, "humidity": 40}}


def template_flow(template: str, **config: Any) -> dict[str, Any]:
    """inject -> template -> debug "out" (the payload) and "all" (the whole message); catch -> "caught"."""
    return flow_document(
        {"id": "in", "type": "inject", "config": {"payload": PAYLOAD, "topic": "up/dev1"}, "wires": [["t"]]},
        {"id": "t", "type": "template", "name": "shape", "config": {"template": template, **config}, "wires": [["out", "all"]]},
        {"id": "out", "type": "debug"},
        {"id": "all", "type": "debug", "config": {"property": ""}},
        {"id": "catch", "type": "catch", "wires": [["caught"]]},
        {"id": "caught", "type": "debug", "config": {"property": ""}},
    )


def problems(document: dict[str, Any]) -> list[str]:
    return [str(p) for p in validate(document, REGISTRY, {}).problems]


async def render(tmp_path: Path, template: str, payload: Any = None, **config: Any) -> Any:
    async with running(template_flow(template, **config), tmp_path) as (runtime, debug):
        await runtime.inject("in", payload)
        (value,) = await debug.wait_for("out", 1)
        return value


async def test_json_output(tmp_path: Path) -> None:
    template = '{"device": {{ payload.devEui | tojson }}, "t": {{ payload.decoded.temperature }}, "topic": "{{ topic }}"}'
    assert await render(tmp_path, template) == {"device": "70b3d57ed0000001", "t": 21.5, "topic": "up/dev1"}


async def test_text_output(tmp_path: Path) -> None:
    template = "{% for k, v in payload.decoded | dictsort %}{{ k }}={{ v }}\n{% endfor %}"
    assert await render(tmp_path, template, output="text") == "humidity=40\ntemperature=21.5\n"


async def test_meta_and_msg_are_in_scope(tmp_path: Path) -> None:
    template = '{{ [meta.injectedAt is string, msg.topic, msg.payload.decoded.humidity] | tojson }}'
    assert await render(tmp_path, template) == [True, "up/dev1", 40]


async def test_writes_to_another_field_and_keeps_the_payload(tmp_path: Path) -> None:
    async with running(template_flow("{{ payload.decoded.temperature }} C", output="text", field="meta.summary"), tmp_path) as (runtime, debug):
        await runtime.inject("in")
        (message,) = await debug.wait_for("all", 1)
        assert message["meta"]["summary"] == "21.5 C"
        assert message["payload"] == PAYLOAD


async def test_topic_field(tmp_path: Path) -> None:
    async with running(template_flow("devices/{{ payload.devEui }}/up", output="text", field="topic"), tmp_path) as (runtime, debug):
        await runtime.inject("in")
        (message,) = await debug.wait_for("all", 1)
        assert message["topic"] == "devices/70b3d57ed0000001/up"


def test_syntax_error_is_a_validation_problem_with_its_line() -> None:
    found = problems(template_flow('{\n  "a": {{ payload.x }},\n  "b": {% if %}\n}'))
    assert len(found) == 1, found
    assert found[0].startswith("node t (template): /config/template: line 3: ")


def test_missing_template_and_bad_options_are_validation_problems() -> None:
    document = template_flow("x", output="xml", timeoutMs=0)
    del document["nodes"][1]["config"]["template"]
    found = problems(document)
    assert "node t (template): /config: 'template' is a required property" in found
    assert any(p.startswith("node t (template): /config/output: 'xml' is not one of") for p in found)
    assert "node t (template): /config/timeoutMs: 0 is less than the minimum of 1" in found


async def test_rendering_error_goes_to_catch_naming_the_source(tmp_path: Path) -> None:
    async with running(template_flow("{{ payload.nothing.deeper }}"), tmp_path) as (runtime, debug):
        await runtime.inject("in")
        (failed,) = await debug.wait_for("caught", 1)
        error = failed["meta"]["error"]
        assert error["source"] == {"id": "t", "type": "template", "name": "shape"}
        assert error["message"] == "template line 1: 'dict object' has no attribute 'nothing'"
        assert error["type"] == "TemplateRenderError"
        assert failed["payload"] == PAYLOAD
        assert debug.values("out") == []
        snapshot = runtime.snapshot()["t"]
        assert snapshot["counters"]["errors"] == 1
        assert snapshot["last_error"] == error["message"]


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ('{\n  "a": 1,\n  "b": {{ payload.missing | tojson }}\n}', "template line 3: TypeError: Object of type Undefined is not JSON serializable"),
        ("{% set x = 1 %}\n\n{{ x / 0 }}", "template line 3: ZeroDivisionError: division by zero"),
        ("{{ payload.items() | first | int + none }}", "template line 1: TypeError: unsupported operand type(s) for +: 'int' and 'NoneType'"),
    ],
)
async def test_other_rendering_errors_name_the_template_line(tmp_path: Path, template: str, message: str) -> None:
    async with running(template_flow(template), tmp_path) as (runtime, debug):
        await runtime.inject("in")
        (failed,) = await debug.wait_for("caught", 1)
        assert failed["meta"]["error"]["message"] == message


async def test_output_that_is_not_json_names_line_and_column(tmp_path: Path) -> None:
    async with running(template_flow('{\n  "t": {{ payload.decoded.temperature }},\n  "id": {{ payload.devEui }}\n}'), tmp_path) as (runtime, debug):
        await runtime.inject("in")
        (failed,) = await debug.wait_for("caught", 1)
        message = failed["meta"]["error"]["message"]
        assert message.startswith("template output is not JSON: line 3 column 11: "), message


async def test_a_runaway_template_hits_the_time_limit_and_the_next_message_works(tmp_path: Path) -> None:
    template = (
        "{% if payload.slow %}{% for i in range(100000) %}{% for j in range(100000) %}{{ '' }}"
        "{% endfor %}{% endfor %}{% endif %}{{ payload | tojson }}"
    )
    async with running(template_flow(template, timeoutMs=50), tmp_path) as (runtime, debug):
        started = time.monotonic()
        await runtime.inject("in", {"slow": True})
        (failed,) = await debug.wait_for("caught", 1)
        assert time.monotonic() - started < 1.0
        assert failed["meta"]["error"]["type"] == "TemplateTimeout"
        assert failed["meta"]["error"]["message"].endswith("rendering exceeded its time limit of 50 ms")
        await runtime.inject("in", {"slow": False})
        assert await debug.wait_for("out", 1) == [{"slow": False}]


@pytest.mark.parametrize(
    "template",
    [
        # empty loop bodies: nothing but the loop itself can check the deadline
        "{% set r = range(100000) %}{% for i in r %}{% for j in r %}{% endfor %}{% endfor %}null",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}null",
        "{% for i in payload.big %}{% for j in payload.big %}{% for k in payload.big %}{% endfor %}{% endfor %}{% endfor %}null",
    ],
)
async def test_empty_nested_loops_hit_the_time_limit(tmp_path: Path, template: str) -> None:
    async with running(template_flow(template, timeoutMs=50), tmp_path) as (runtime, debug):
        started = time.monotonic()
        await runtime.inject("in", {"big": list(range(2000))})
        (failed,) = await debug.wait_for("caught", 1)
        assert time.monotonic() - started < 1.0
        assert failed["meta"]["error"]["type"] == "TemplateTimeout"


HUGE = [
    "{{ 'x' * 1000000000 }}",
    "{{ [0] * 1000000000 }}",
    "{{ 7 ** 1000000000 }}",
    "{{ 'x' | center(1000000000) }}",
    "{{ '%01000000000d' % 1 }}",
    "{{ '%*d' % (1000000000, 1) }}",
    "{{ '%01000000000d' | format(1) }}",
    "{{ '{:01000000000}'.format(1) }}",
    "{{ '{:{w}}'.format(1, w=1000000000) }}",
    "{{ 'x'.ljust(1000000000) }}",
    "{{ range(10) | slice(1000000000) | list }}",
    "{{ ('a' * 1000) | replace('a', 'a' * 1000) | replace('a', 'aa') }}",
]


@pytest.mark.parametrize("template", HUGE)
async def test_huge_values_are_refused_not_built(tmp_path: Path, template: str) -> None:
    document = template_flow(template, output="text")
    started = time.monotonic()
    assert problems(document) == []  # Jinja folds constants while compiling: validation must not build them
    assert time.monotonic() - started < 0.5
    async with running(document, tmp_path) as (runtime, debug):
        await runtime.inject("in")
        (failed,) = await debug.wait_for("caught", 1)
        assert failed["meta"]["error"]["message"].startswith("template line 1: ")
        assert failed["meta"]["error"]["type"] == "TemplateRenderError"


async def test_ordinary_arithmetic_and_formatting_still_work(tmp_path: Path) -> None:
    template = (
        "{{ [2 ** 10, 'ab' * 2, 3 * 4, [1] * 2, 2.5 * 2, 7 % 3, '%05.1f' % 3.14159, '%(n)03d' % {'n': 7},"
        " '{:>4}|{:,.2f}'.format('a', 12345.678), '%d%%' | format(5), 'hi' | center(6), 'x'.rjust(3, '-'),"
        " 1700000000 | default(0), 'a b' | replace(' ', '_')] | tojson }}"
    )
    assert await render(tmp_path, template) == [
        1024, "abab", 12, [1, 1], 5.0, 1, "003.1", "007", "   a|12,345.68", "5%", "  hi  ", "--x", 1700000000, "a_b",
    ]


@pytest.mark.parametrize(
    "template",
    [
        "{{ payload.__class__.__mro__[1].__subclasses__() }}",
        "{{ payload.__class__.__mro__ }}",
        "{{ ''.__class__.__base__.__subclasses__() }}",
        "{{ payload.items.__globals__ }}",
        "{{ range.__init__.__globals__['os'] }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    ],
)
async def test_the_sandbox_blocks_python_internals(tmp_path: Path, template: str) -> None:
    async with running(template_flow(template, output="text"), tmp_path) as (runtime, debug):
        await runtime.inject("in")
        async with asyncio.timeout(2):
            while not (debug.values("out") or debug.values("caught")):
                await asyncio.sleep(0.005)
        rendered = debug.values("out")
        caught = debug.values("caught")
        assert len(rendered + caught) == 1
        if caught:
            text = caught[0]["meta"]["error"]["message"]
            assert "unsafe" in text or "undefined" in text, text
        else:
            text = rendered[0]
            assert text == "", text


async def test_each_message_gets_a_fresh_rendering(tmp_path: Path) -> None:
    async with running(template_flow("{{ payload.n * 2 }}"), tmp_path) as (runtime, debug):
        for n in range(5):
            await runtime.inject("in", {"n": n})
        assert await debug.wait_for("out", 5) == [0, 2, 4, 6, 8]

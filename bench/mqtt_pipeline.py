"""MQTT pipeline benchmark: MQTT in (QoS 1) -> decode -> reshape -> MQTT out (QoS 1), against a real
Mosquitto on a free loopback port, compared with the broker alone (publisher straight to subscriber)
and, with ``--node-red DIR`` (a folder where ``npm install node-red`` was run), Node-RED's
``mqtt in`` -> ``function`` -> ``mqtt out``.

    python bench/mqtt_pipeline.py [--quick] [--node-red /tmp/nr] [--only "flowengine,node-red"]

100 devices send canonical uplink JSON with a 5-byte hex payload (int16 temperature / 10, uint8
humidity / 2, uint16 battery mV). Each message carries its publish time; a separate subscriber
process measures loss, duplicates, throughput (blasts of 20,000 and 100,000) and latency p50/p99 at
fixed rates (1,000 and 5,000 msg/s). The pipeline runs as its own process (``flowengine run``), whose
peak RSS (VmHWM) is reported; the at-least-once acknowledgement is on (mqtt-in acks each message only
after mqtt-out got its PUBACK). The publisher and subscriber are ``mqtt_load.c``, compiled with ``cc``
at the start: in C they cost ~3 us per message, where Python load generators took ~17 us of the same
two cores and held "broker alone" at 45,000 msg/s instead of the ~70,000 the 2026-11-22 machine's
broker did.

Measured 2026-12-01 on a 2-core machine whose broker and kernel were about twice as fast as the
2026-11-22 one (broker alone 132,000-155,000 msg/s instead of 62,700-70,000); three full runs gave
x2.11-2.55 Node-RED at the 20,000 blast and x2.37-2.72 at 100,000 (flowengine / Node-RED 4 / broker
alone). The last:

- blast 20,000: 59,697 / 23,378 / 154,756 msg/s (x2.55); CPU 15.0 / 55.0 / (broker) 6 us/msg
- blast 100,000: 63,465 / 23,335 / 146,845 msg/s (x2.72); CPU 14.8 / 45.8 us/msg; peak RSS 129 / 291 MB
- 5,000 msg/s: p50 1.2 / 6.0 ms, p99 3.1 / 9.1 ms; 1,000 msg/s: p99 3.9 / 7.7 ms
- loss 0 and duplicates 0 everywhere; flowengine's peak RSS (VmHWM) is 84 MB at the fixed rates and
  106-129 MB in the blasts (what Mosquitto sends ahead of the acknowledgements; see mqtt-in).
- Mosquitto spends 12-16 us of CPU per message relayed through a pipeline
  (two hops), for flowengine and Node-RED alike, so in a blast the broker, the pipeline and the
  load generators together fill both cores: flowengine's blast rate is bound by that sum, Node-RED's
  by its own single thread (45-55 us per message), which gets quicker over a long blast.
- On 2026-11-22 (the slower machine) the same code before its last CPU cuts gave x1.98-2.26 at
  20,000 and x1.75-1.89 at 100,000 over five runs (26-30 us of CPU per message, Node-RED 58-80).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.support.mosquitto import Mosquitto  # noqa: E402

DEVICES = 100
FIELDS = [
    {"name": "temperature", "offset": 0, "type": "i16", "scale": 0.1},
    {"name": "humidity", "offset": 2, "type": "u8", "scale": 0.5},
    {"name": "battery", "offset": 3, "type": "u16"},
]
NODE_RED_FUNCTION = """
const p = msg.payload;
const b = Buffer.from(p.bytes, 'hex');
msg.payload = {devEui: p.devEui, fPort: p.fPort, fCnt: p.fCnt, receivedAt: p.receivedAt, n: p.n, ts: p.ts,
    temperature: b.readInt16BE(0) / 10, humidity: b.readUInt8(2) / 2, battery: b.readUInt16BE(3)};
msg.topic = 'bench/out/' + p.devEui;
return msg;
"""


# -- publisher and subscriber processes -------------------------------------------------------

LOAD_SOURCE = Path(__file__).with_name("mqtt_load.c")


def build_load_generator(work: Path) -> Path:
    """Compile ``mqtt_load.c`` (the publisher and subscriber, in C so that they take as little as
    possible of the cores the broker and the pipeline need)."""
    binary = work / "mqtt_load"
    subprocess.run(["cc", "-O2", "-o", str(binary), str(LOAD_SOURCE)], check=True)
    return binary


# -- the pipelines ------------------------------------------------------------------------------


def flowengine_flow(port: int, client_id: str = "bench-flowengine", group: str = "") -> dict[str, Any]:
    def node(id_: str, type_: str, wires: list[list[str]], config: dict[str, Any]) -> dict[str, Any]:
        return {"id": id_, "type": type_, "flow": "bench", "config": config, "wires": wires}

    return {"version": 1, "flows": [{"id": "bench", "label": "MQTT pipeline benchmark"}], "nodes": [
        node("b", "mqtt-broker", [], {"host": "127.0.0.1", "port": port, "clientId": client_id}),
        node("in", "mqtt-in", [["decode"]], {"broker": "b", "topic": "bench/in/+/up", "payloadFormat": "json", "group": group}),
        node("decode", "codec-binary", [["reshape"]], {"ports": [{"fPort": None, "fields": FIELDS}]}),
        node("reshape", "change", [["out"]], {"rules": [
            {"action": "move", "path": "payload.temperature", "from": "payload.decoded.temperature"},
            {"action": "move", "path": "payload.humidity", "from": "payload.decoded.humidity"},
            {"action": "move", "path": "payload.battery", "from": "payload.decoded.battery"},
            {"action": "delete", "path": "payload.decoded"},
            {"action": "delete", "path": "payload.bytes"}]}),
        node("out", "mqtt-out", [], {"broker": "b", "topic": "bench/out", "appendDevEui": True}),
    ]}


def node_red_flow(port: int) -> list[dict[str, Any]]:
    return [
        {"id": "tab", "type": "tab", "label": "bench"},
        {"id": "broker", "type": "mqtt-broker", "name": "bench", "broker": "127.0.0.1", "port": str(port), "clientid": "bench-node-red",
         "autoConnect": True, "usetls": False, "protocolVersion": "4", "keepalive": "60", "cleansession": True},
        {"id": "in", "type": "mqtt in", "z": "tab", "topic": "bench/in/+/up", "qos": "1", "datatype": "json", "broker": "broker",
         "nl": False, "rap": False, "inputs": 0, "wires": [["fn"]]},
        {"id": "fn", "type": "function", "z": "tab", "func": NODE_RED_FUNCTION, "outputs": 1, "wires": [["out"]]},
        {"id": "out", "type": "mqtt out", "z": "tab", "topic": "", "qos": "1", "retain": "false", "broker": "broker", "wires": []},
    ]


class Pipeline:
    """The pipeline processes (one flowengine, two flowengines in a shared-subscription group, or
    Node-RED), or none (the broker alone)."""

    def __init__(self, kind: str, broker: Mosquitto, work: Path, node_red: Path | None) -> None:
        self.kind = kind
        self.broker = broker
        self.work = work
        self.node_red = node_red
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def output_topic(self) -> str:
        return "bench/in/+/up" if self.kind == "broker alone" else "bench/out/#"

    def start(self) -> None:
        if self.kind == "broker alone":
            return
        if self.kind == "flowengine":
            self._start_flowengine("bench-flowengine", "")
        elif self.kind == "flowengine x2":
            for n in (1, 2):
                self._start_flowengine(f"bench-flowengine-{n}", "bench")
        else:
            assert self.node_red is not None
            user_dir = Path(tempfile.mkdtemp(dir=self.work))
            (user_dir / "flows.json").write_text(json.dumps(node_red_flow(self.broker.port)))
            command = ["node", str(self.node_red / "node_modules" / "node-red" / "red.js"), "--userDir", str(user_dir),
                       "--port", "0", "flows.json"]
            self._launch(command, "bench-node-red", "bench/in/+/up")

    def _start_flowengine(self, client_id: str, group: str) -> None:
        flow = self.work / f"{client_id}.json"
        flow.write_text(json.dumps(flowengine_flow(self.broker.port, client_id, group)))
        data = tempfile.mkdtemp(dir=self.work)
        command = [sys.executable, "-m", "flowengine", "--log-level", "warning", "run", str(flow), "--data", data, "--port", "0"]
        self._launch(command, client_id, f"$share/{group}/bench/in/+/up" if group else "bench/in/+/up")

    def _launch(self, command: list[str], client_id: str, topic: str) -> None:
        since = self.broker.log_size()
        log_path = self.work / f"{client_id}.log"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                       env={**os.environ, "FLOWENGINE_SECRET": "bench"})
        self.processes.append(process)
        deadline = time.monotonic() + 60
        while not self.broker.subscribed(client_id, topic, since):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind} did not subscribe; see {log_path}")
            time.sleep(0.05)

    def peak_rss_mb(self, field: str = "VmHWM") -> float:
        """Peak RSS (VmHWM; VmRSS for the current one), summed over the pipeline's processes."""
        if not self.processes:
            return float("nan")
        total = 0.0
        for process in self.processes:
            for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1]) / 1024
        return total

    def cpu_seconds(self) -> float:
        """User + system CPU time so far, summed over the pipeline's processes (the broker's for
        the broker alone)."""
        pids = [p.pid for p in self.processes] or ([self.broker.process.pid] if self.broker.process else [])
        return sum(cpu_seconds(pid) for pid in pids)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_role(command: list[str], wait_ready: bool = False) -> subprocess.Popen[str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO)
    if wait_ready:
        assert process.stdout is not None
        line = process.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"subscriber not ready: {line!r}")
    return process


def result_of(process: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    out, _ = process.communicate(timeout=timeout)
    return json.loads(out.strip().splitlines()[-1])


def scenario(pipeline: Pipeline, load: Path, count: int, rate: float) -> dict[str, Any]:
    pipeline.start()
    try:
        idle = 15.0
        port = str(pipeline.broker.port)
        sub = run_role([str(load), "sub", port, pipeline.output_topic, str(count), str(idle)], wait_ready=True)
        cpu_before, broker_before = pipeline.cpu_seconds(), cpu_seconds(pipeline.broker.process.pid)  # type: ignore[union-attr]
        pub = run_role([str(load), "pub", port, str(count), str(rate)])
        sent = result_of(pub, timeout=600)
        got = result_of(sub, timeout=600)
        got["cpu_us"] = (pipeline.cpu_seconds() - cpu_before) / count * 1e6
        got["broker_cpu_us"] = (cpu_seconds(pipeline.broker.process.pid) - broker_before) / count * 1e6  # type: ignore[union-attr]
        got["peak_rss_mb"] = pipeline.peak_rss_mb()
        got["rss_mb"] = pipeline.peak_rss_mb("VmRSS")
        got["publish_seconds"] = sent["seconds"]
        got["load_cpu_us"] = (sent["cpu"] + got["cpu"]) / count * 1e6
        got["lost"] = count - got["received"]
        return got
    finally:
        pipeline.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs (20,000 blast; 3 s at each rate)")
    parser.add_argument("--only", default="", help="comma-separated: broker alone, flowengine, flowengine x2, node-red")
    parser.add_argument("--node-red", type=Path, default=None, help="folder with node_modules/node-red (npm install node-red)")
    args = parser.parse_args()

    kinds = ["broker alone", "flowengine", "flowengine x2"] + (["node-red"] if args.node_red else [])
    if args.only:
        kinds = [k for k in kinds if k in args.only.split(",")]
    runs = [("blast", 20_000, 0.0)] if args.quick else [("blast", 20_000, 0.0), ("blast", 100_000, 0.0)]
    seconds = 3 if args.quick else 5
    runs += [("rate", 1000 * seconds, 1000.0), ("rate", 5000 * seconds, 5000.0)]
    rows: list[tuple[str, str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="mqtt-bench-") as tmp:
        work = Path(tmp)
        load = build_load_generator(work)
        with Mosquitto(work / "broker", max_inflight=1000, max_queued=0, persistence=False) as broker:
            for kind in kinds:
                for name, count, rate in runs:
                    label = f"blast {count:,}" if name == "blast" else f"{rate:,.0f} msg/s x {count / rate:.0f} s"
                    result = scenario(Pipeline(kind, broker, work, args.node_red), load, count, rate)
                    rows.append((kind, label, result))
                    print(f"{kind:<13} {label:<20} {fmt(result)}", file=sys.stderr, flush=True)
    print()
    print(f"| {'pipeline':<13} | {'run':<20} | {'msg/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} | {'lost':>5} | {'dup':>5} | {'CPU us/msg':>10} | {'msg/CPU-s':>9} | {'peak RSS MB':>11} | {'RSS after MB':>12} | {'broker us/msg':>13} | {'load us/msg':>11} |")
    print(f"|{'-' * 15}|{'-' * 22}|{'-' * 10}|{'-' * 9}|{'-' * 9}|{'-' * 7}|{'-' * 7}|{'-' * 12}|{'-' * 11}|{'-' * 13}|{'-' * 14}|{'-' * 15}|{'-' * 13}|")
    for kind, label, r in rows:
        per_cpu = 1e6 / r["cpu_us"] if r["cpu_us"] else float("nan")
        print(f"| {kind:<13} | {label:<20} | {r['rate']:>8,.0f} | {r['p50']:>7.1f} | {r['p99']:>7.1f} | {r['lost']:>5} | {r['duplicates']:>5} "
              f"| {r['cpu_us']:>10.1f} | {per_cpu:>9,.0f} | {r['peak_rss_mb']:>11.0f} | {r['rss_mb']:>12.0f} "
              f"| {r['broker_cpu_us']:>13.1f} | {r['load_cpu_us']:>11.1f} |")
    print("\nCPU us/msg: CPU time (user + system) of the pipeline processes per message (the broker's for the broker alone);")
    print("msg/CPU-s is its inverse: the throughput one free core would give. msg/s depends on what else the machine runs.")
    print("peak RSS is the process's high-water mark (VmHWM, start-up included); RSS after is VmRSS at the end of the run.")
    print("broker us/msg: Mosquitto's CPU per message; load us/msg: the publisher's and subscriber's together. All of them")
    print("share the machine's cores with the pipeline, so a blast is bound by their sum as much as by the pipeline.")
    by = {(kind, label): r for kind, label, r in rows}
    print()
    for ours in ("flowengine", "flowengine x2"):
        for kind in kinds:
            if kind.startswith("flowengine"):
                continue
            for _, label, r in [row for row in rows if row[0] == ours]:
                other = by.get((kind, label))
                if other and other["rate"] and label.startswith("blast"):
                    print(f"{ours} / {kind}, {label}: throughput x{r['rate'] / other['rate']:.2f}")
    return 0


def fmt(r: dict[str, Any]) -> str:
    return (f"{r['rate']:,.0f} msg/s p50 {r['p50']:.1f} ms p99 {r['p99']:.1f} ms lost {r['lost']} dup {r['duplicates']} "
            f"cpu {r['cpu_us']:.1f} us/msg rss {r['peak_rss_mb']:.0f} MB (after {r['rss_mb']:.0f} MB)")


if __name__ == "__main__":
    sys.exit(main())

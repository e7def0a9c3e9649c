"""The node agent's footprint, next to node_exporter's on the same machine.

    python bench/agent_footprint.py [DURATION_S]

The agent runs with a 1 s interval and publishes to a throwaway Mosquitto on 127.0.0.1 (anonymous
access, gone with its temporary directory); node_exporter, when /usr/bin/prometheus-node-exporter
exists, runs on a free loopback port and is scraped once per second. Each runs alone, after a
warm-up, for DURATION_S seconds. Reported per process:

  rss_mb           median VmRSS (/proc/<pid>/status) sampled once a second after the warm-up
  cpu_ms per unit  utime+stime delta (/proc/<pid>/stat, all threads) over the window, divided by
                   the agent's collection cycles (counted from the published batches) or by
                   node_exporter's scrapes

utime+stime are counted in clock ticks (10 ms), which is coarse for a 30 s run of a process that
uses a few ms a second; the *_schedstat keys give the same ratio from the scheduler's nanosecond
run time of every thread (/proc/<pid>/task/*/schedstat), as a cross-check.
"""

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as paho

NODE_EXPORTER = Path("/usr/bin/prometheus-node-exporter")
MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
AGENT = Path(sys.executable).parent / "microdash-agent"
WARMUP_S = 5.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def cpu_seconds(pid: int) -> float:
    # The command name (field 2) may hold spaces; utime and stime are fields 14 and 15.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def run_seconds(pid: int) -> float:
    total_ns = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total_ns += int((task / "schedstat").read_text().split()[0])
        except (OSError, IndexError, ValueError):
            continue  # the thread ended meanwhile
    return total_ns / 1e9


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class CycleCounter:
    """Subscribes to the agent's topic and counts collection cycles (distinct sample timestamps)."""

    def __init__(self, port: int):
        self._timestamps: set[int] = set()
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="footprint-counter")
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_connect = lambda client, *_: client.subscribe("microdash/#", qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not subscribed.wait(10):
            raise RuntimeError("the benchmark's subscriber got no SUBACK")

    def _on_message(self, client, userdata, message) -> None:
        timestamps = {sample["ts"] for sample in json.loads(message.payload)}
        with self._lock:
            self._timestamps |= timestamps

    @property
    def cycles(self) -> int:
        with self._lock:
            return len(self._timestamps)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def observe(pid: int, duration_s: float, units, tick=None) -> tuple[float, float, float, int]:
    """(median RSS MB, CPU ms per unit, the same from schedstat, units) over `duration_s`.

    `tick` runs once a second (node_exporter's scrape).
    """
    cpu_before, run_before, units_before, rss_samples = cpu_seconds(pid), run_seconds(pid), units(), []
    deadline = time.monotonic() + duration_s
    while time.monotonic() < deadline:
        next_second = time.monotonic() + 1.0
        if tick is not None:
            tick()
        rss_samples.append(rss_mb(pid))
        time.sleep(max(0.0, next_second - time.monotonic()))
    cpu_used, run_used, counted = cpu_seconds(pid) - cpu_before, run_seconds(pid) - run_before, units() - units_before
    per_unit = max(counted, 1)
    return statistics.median(rss_samples), 1000 * cpu_used / per_unit, 1000 * run_used / per_unit, counted


def measure_agent(workdir: Path, duration_s: float) -> dict:
    port = free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    broker = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    agent = counter = None
    try:
        wait_for_port(port, broker)
        counter = CycleCounter(port)
        agent = subprocess.Popen(
            [str(AGENT), "--interval", "1", "--no-jitter", "--mqtt-url", f"mqtt://127.0.0.1:{port}",
             "--tenant", "bench", "--log-level", "WARNING"], stdout=subprocess.DEVNULL)
        time.sleep(WARMUP_S)
        if counter.cycles == 0:
            raise RuntimeError("the agent published nothing during the warm-up")
        rss, cpu_ms, run_ms, cycles = observe(agent.pid, duration_s, lambda: counter.cycles)
        return {"agent_rss_mb": round(rss, 2), "agent_cpu_ms_per_cycle": round(cpu_ms, 3),
                "agent_cpu_ms_per_cycle_schedstat": round(run_ms, 3), "agent_cycles": cycles}
    finally:
        if agent is not None:
            stop(agent)
        if counter is not None:
            counter.close()
        stop(broker)


def measure_node_exporter(duration_s: float) -> dict:
    unavailable = {"node_exporter_rss_mb": None, "node_exporter_cpu_ms_per_scrape": None}
    if not NODE_EXPORTER.exists():
        return unavailable
    port = free_port()
    exporter = subprocess.Popen([str(NODE_EXPORTER), f"--web.listen-address=127.0.0.1:{port}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scrapes = 0

    def scrape() -> None:
        nonlocal scrapes
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            response.read()
        scrapes += 1

    try:
        wait_for_port(port, exporter)
        warmup_end = time.monotonic() + WARMUP_S
        while time.monotonic() < warmup_end:
            scrape()
            time.sleep(1.0)
        rss, cpu_ms, run_ms, counted = observe(exporter.pid, duration_s, lambda: scrapes, tick=scrape)
        return {"node_exporter_rss_mb": round(rss, 2), "node_exporter_cpu_ms_per_scrape": round(cpu_ms, 3),
                "node_exporter_cpu_ms_per_scrape_schedstat": round(run_ms, 3), "node_exporter_scrapes": counted}
    finally:
        stop(exporter)


def measure_agent_footprint(duration_s: float = 30) -> dict:
    """Agent and node_exporter (None when not installed), measured one after the other."""
    with tempfile.TemporaryDirectory(prefix="agent-footprint-") as workdir:
        result = {"duration_s": duration_s, **measure_agent(Path(workdir), duration_s)}
    result.update(measure_node_exporter(duration_s))
    return result


if __name__ == "__main__":
    print(json.dumps(measure_agent_footprint(float(sys.argv[1]) if len(sys.argv) > 1 else 30), indent=2))

"""Alerting test helpers: rules and samples written straight to the database, a real HTTP receiver."""

import http.server
import ssl
import subprocess
import threading
import time
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from microdash_core import db
from microdash_core.alerting.rule_rows import WRITABLE_COLUMNS, row_values
from microdash_core.alerting.rules import Rule
from microdash_workers.alert_eval import evaluate_rules
from microdash_workers.storage import SampleStore


def create_rule(stack, tenant_id: int, **overrides) -> Rule:
    fields = dict(id=0, tenant_id=tenant_id, name="cpu-high", metric="cpu", matchers=(), aggregation="avg",
                  window_seconds=60, comparison=">", threshold=90.0,
                  annotations={"summary": "{{ $labels.host }} at {{ $value }}"})
    rule = Rule(**{**fields, **overrides})
    columns = ", ".join(("tenant_id", *WRITABLE_COLUMNS))
    with db.transaction(stack.settings) as cursor:
        cursor.execute(f"INSERT INTO alert_rules ({columns}) VALUES ({', '.join(['%s'] * (len(WRITABLE_COLUMNS) + 1))})",
                       [tenant_id, *row_values(rule)])
        rule_id = cursor.lastrowid
    return Rule(**{**rule.__dict__, "id": rule_id})


def create_channel(stack, tenant_id: int, *, kind: str = "webhook", config: dict, secret: str = "",
                   name: str = "ops") -> int:
    with db.transaction(stack.settings) as cursor:
        cursor.execute("INSERT INTO notification_channels (tenant_id, name, kind, config, secret)"
                       " VALUES (%s, %s, %s, %s, %s)", (tenant_id, name, kind, orjson.dumps(config).decode(), secret))
        return cursor.lastrowid


def store_samples(stack, tenant_id: int, samples: list[tuple[str, dict, int, float]]) -> None:
    store = SampleStore(stack.settings)
    try:
        store.store(tenant_id=tenant_id, samples=samples)
    finally:
        store.close()


def firing_notification(stack, tenant_id: int, **channel) -> int:
    """A rule that fires for host n1, evaluated in-process; returns its one notification, not enqueued."""
    now = int(time.time() * 1000) - 60_000
    store_samples(stack, tenant_id, [("cpu", {"host": "n1"}, now - 5_000, 97.5)])
    create_rule(stack, tenant_id)
    create_channel(stack, tenant_id, **channel)
    with closing(db.connect(stack.settings)) as database:
        (notification_id,) = evaluate_rules(database, stack.settings, tenant_id=tenant_id, now_ms=now,
                                            evaluator="test")["notification_ids"]
    return notification_id


def transitions(stack, rule_id: int) -> list[tuple]:
    return stack.sql("SELECT labels, from_state, to_state, muted FROM alert_transitions WHERE rule_id = %s"
                     " ORDER BY id", (rule_id,))


def states(stack, rule_id: int) -> dict[str, str]:
    rows = stack.sql("SELECT labels, state FROM alert_states WHERE rule_id = %s", (rule_id,))
    return {orjson.loads(labels).get("host", ""): state for labels, state in rows}


@dataclass
class Receiver:
    """A real HTTP server on a free port answering with the given statuses in turn (the last repeats),
    with a Location header when `location` is set; it records requests of any method."""
    statuses: list[int] = field(default_factory=lambda: [200])
    requests: list[tuple[dict, bytes]] = field(default_factory=list)
    location: str | None = None
    tls: ssl.SSLContext | None = None

    def __enter__(self) -> "Receiver":
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append((dict(self.headers), body))
                status = receiver.statuses[min(len(receiver.requests), len(receiver.statuses)) - 1]
                self.send_response(status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_PUT = do_POST

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/hook"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def self_signed_certificate(folder: Path, name: str) -> tuple[Path, ssl.SSLContext]:
    """A certificate for `name` only ("IP:127.0.0.1" or "DNS:localhost") and a server context
    holding it; a channel trusts it by giving the certificate's PEM as ca_pem."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", f"/CN={name.partition(':')[2]}", "-addext", f"subjectAltName={name}",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return folder / "cert.pem", context


class Captured:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


@contextmanager
def smtp_server(**server_tls):
    """A real SMTP server (aiosmtpd) on a free local port, keeping what it receives: yields (handler, port)."""
    from aiosmtpd.controller import Controller

    from microdash_cli.localstack import free_port

    handler = Captured()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **server_tls)
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()

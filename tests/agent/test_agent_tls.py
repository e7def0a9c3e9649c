"""mqtts:// against a Mosquitto TLS listener, and no OpenSSL at all in a plain mqtt:// agent."""

import subprocess
import sys

import pytest
from agent_mqtt_subscriber import Subscriber
from conftest import Broker

from microdash_agent.transport import Outcome
from microdash_agent.transport.mqtt import MqttTransport


def openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def tls_broker(tmp_path):
    ec_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *ec_key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=test-ca",
            cwd=tmp_path)
    openssl("req", *ec_key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=tmp_path)
    (tmp_path / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.crt", "-days", "1", "-extfile", "san.ext", cwd=tmp_path)
    broker = Broker(tmp_path, tls_files={"cafile": tmp_path / "ca.crt", "certfile": tmp_path / "server.crt",
                                         "keyfile": tmp_path / "server.key"})
    broker.start()
    yield broker, tmp_path / "ca.crt"
    broker.stop()


def test_mqtts_with_the_right_ca_delivers(tls_broker):
    broker, ca_file = tls_broker
    transport = MqttTransport(url=f"mqtts://localhost:{broker.port}", tenant="t", host="h", ca_file=str(ca_file),
                              timeout=5)
    try:
        assert transport.deliver(b'[{"metric":"m","value":1.0,"labels":{}}]') is Outcome.DELIVERED
    finally:
        transport.close()


def test_mqtts_refuses_a_broker_it_cannot_verify(tls_broker):
    broker, _ = tls_broker
    transport = MqttTransport(url=f"mqtts://localhost:{broker.port}", tenant="t", host="h", timeout=5)
    try:
        assert transport.deliver(b"[]") is Outcome.RETRY  # self-signed CA, not in the system's bundle
    finally:
        transport.close()


PLAIN_AGENT = """
import sys
from microdash_agent.cli import main
code = main(sys.argv[1:])
maps = open("/proc/self/maps").read()
print(code, sys.modules.get("ssl"), "libcrypto" in maps or "libssl" in maps, "http.client" in sys.modules)
"""


def test_a_plain_mqtt_agent_loads_no_openssl_nor_urllib_request(broker):
    subscriber = Subscriber(broker.port)
    try:
        completed = subprocess.run(
            [sys.executable, "-c", PLAIN_AGENT, "--once", "--mqtt-url", broker.url, "--tenant", "acme",
             "--host", "plain", "--collectors", "loadavg"], capture_output=True, text=True, timeout=30)
        assert completed.stdout.split() == ["0", "None", "False", "False"], completed.stderr
        assert {sample["metric"] for sample in subscriber.wait_for_samples(1)} >= {"system.load1"}
    finally:
        subscriber.close()

"""The `microdash-agent` command: wire config, collectors, buffer and transport, then run."""

import logging
import random
import signal
import sys
import threading
from collections.abc import Sequence

from .agent import Agent
from .buffer import SampleBuffer
from .collectors import CollectorOptions, build_collectors
from .config import AgentConfig, parse_config
from .footprint import skip_openssl, skip_urllib_request
from .runner import CollectorRunner
from .shipper import Shipper
from .spool import Spool
from .transport import Transport

log = logging.getLogger("microdash_agent")


def make_transport(config: AgentConfig) -> Transport:
    # Imported here so that each mode loads only its own client library.
    if config.stdout:
        from .transport.stdout import StdoutTransport

        return StdoutTransport()
    if config.transport == "http":
        from .transport.http import HttpTransport

        return HttpTransport(url=config.http_url, token=config.token, timeout=config.timeout)
    from .transport.mqtt import MqttTransport

    return MqttTransport(url=config.mqtt_url, tenant=config.tenant, host=config.host,
                         username=config.mqtt_username, password=config.mqtt_password,
                         ca_file=config.mqtt_ca_file, client_id=config.mqtt_client_id,
                         topic_prefix=config.mqtt_topic_prefix, timeout=config.timeout)


def uses_tls(config: AgentConfig) -> bool:
    if config.stdout:
        return False
    if config.transport == "http":
        return (config.http_url or "").startswith("https:")
    return config.mqtt_url.startswith("mqtts:")


def build_agent(config: AgentConfig) -> Agent:
    if not uses_tls(config):
        skip_openssl()
    if not config.stdout and config.transport == "mqtt":
        skip_urllib_request()
    options = CollectorOptions(procfs=config.procfs, rootfs=config.rootfs, include_loopback=config.include_loopback)
    runner = CollectorRunner(build_collectors(options, config.collectors))
    spool = Spool(config.spool_dir) if config.spool_dir else None
    buffer = SampleBuffer(config.buffer_samples, spool)
    return Agent(runner=runner, shipper=Shipper(buffer, make_transport(config)), host=config.host,
                 interval=config.interval)


def main(argv: Sequence[str] | None = None) -> int:
    config = parse_config(argv)
    logging.basicConfig(level=config.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        agent = build_agent(config)
    except ValueError as error:
        log.error("%s", error)
        return 2
    if config.once:
        delivered = agent.run_once()
        agent.shutdown(flush_seconds=0)
        return 0 if delivered else 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    log.info("collecting %s every %.1f s as host %s", ", ".join(agent.runner.names), config.interval, config.host)
    agent.run(stop, initial_delay=random.uniform(0, config.interval) if config.jitter else 0.0)
    log.info("stopping: flushing %d buffered samples", len(agent.buffer))
    agent.shutdown()
    return 0

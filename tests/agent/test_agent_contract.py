"""The agent's output against the wire contract (contract/openapi.json). Over HTTP the agent POSTs a
batch to the bulk path; over MQTT it publishes the same bytes, which the bridge reads with the same
rules. So one check covers both: the JSON Schema of the bulk body, run on what the agent's real
collectors, encoder, buffer and shipper produce on this machine. The other agent tests check their
output with the same schema (agent_sample_rules.assert_valid_samples)."""

import io
import json
import socket
import time

import pytest
from agent_sample_rules import BULK_PATH, SINGLE_PATH, assert_valid_samples, contract_problems, request_body_schema

from microdash_agent.agent import Agent
from microdash_agent.buffer import SampleBuffer
from microdash_agent.collectors import CollectorOptions, build_collectors
from microdash_agent.runner import CollectorRunner
from microdash_agent.shipper import MAX_BATCH_SAMPLES, Shipper
from microdash_agent.transport import http
from microdash_agent.transport.stdout import StdoutTransport

GOOD_SAMPLE = {"metric": "net.receive_bytes_per_s", "value": 12.5, "ts": 1764000000000, "labels": {"device": "eth0"}}


def payloads_of_two_real_cycles() -> list[bytes]:
    """This machine's /proc through the agent's own pipeline; the second cycle has rates and CPU
    percentages. The stdout transport receives exactly the payloads HTTP would POST and MQTT publish."""
    stream = io.StringIO()
    agent = Agent(runner=CollectorRunner(build_collectors(CollectorOptions())),
                  shipper=Shipper(SampleBuffer(100_000), StdoutTransport(stream)),
                  host=socket.gethostname(), interval=1.0)
    agent.cycle()
    time.sleep(0.3)  # enough clock ticks (10 ms each) for CPU percentages
    agent.cycle()
    return [line.encode() for line in stream.getvalue().splitlines()]


def test_what_the_agent_sends_is_valid_under_the_contract():
    payloads = payloads_of_two_real_cycles()
    batches = [json.loads(payload) for payload in payloads]
    assert len(batches) >= 2, "one batch per cycle at least"
    for batch in batches:
        assert_valid_samples(batch)
        assert not [problems for sample in batch if (problems := contract_problems(sample, SINGLE_PATH))]
    metrics = {sample["metric"] for batch in batches for sample in batch}
    assert {"cpu.usage_percent", "mem.used_bytes", "agent.collector_success"} <= metrics


def test_the_agent_posts_to_the_contracts_bulk_path_whose_body_is_an_array_of_samples():
    assert http.BULK_PATH == BULK_PATH
    bulk = request_body_schema(BULK_PATH)
    assert bulk["type"] == "array" and bulk["items"] == request_body_schema(SINGLE_PATH)
    assert bulk["minItems"] == 1 and MAX_BATCH_SAMPLES <= bulk["maxItems"]  # the agent's batches fit the default


@pytest.mark.parametrize("sample", [
    {"metric": "cpu usage", "value": 1},
    {"metric": "9lives", "value": 1},
    {"value": 1},
    {"metric": "m"},
    {"metric": "m", "value": "1"},
    {"metric": "m", "value": True},
    {"metric": "m", "value": 1e300},
    {"metric": "m", "value": 1, "ts": 1.5},
    {"metric": "m", "value": 1, "ts": "now"},
    {"metric": "m", "value": 1, "labels": {"host": 1}},
    {"metric": "m", "value": 1, "labels": {"bad-name": "x"}},
    {"metric": "m", "value": 1, "labels": {"__name__": "x"}},
    {"metric": "m", "value": 1, "labels": {f"l{n}": "x" for n in range(33)}},
    {"metric": "m", "value": 1, "labels": {"host": "x" * 1025}},
    {"metric": "m" * 201, "value": 1},
    {"metric": "m", "value": 1, "labels": ["host"]},
    {"metric": "m", "value": 1, "unit": "s"},
])
def test_the_contract_refuses_what_the_server_refuses(sample):
    assert contract_problems([GOOD_SAMPLE, sample]), sample
    assert contract_problems(sample, SINGLE_PATH), sample


def test_the_contract_takes_the_optional_fields_absent_or_null():
    for sample in (GOOD_SAMPLE, {"metric": "up", "value": 1}, {"metric": "up", "value": 0, "ts": None, "labels": {}}):
        assert contract_problems([sample]) == [] and contract_problems(sample, SINGLE_PATH) == []
    assert contract_problems({"metric": "up", "value": 1}) != [], "the bulk body is an array"

"""Remote-write request bodies built with the same message classes the api decodes with, for the
tests' bad and edge-case payloads (the real senders are Prometheus and vmagent)."""

import struct

import cramjam

from microdash_api.protocols.remote_write_messages import Label, Sample, TimeSeries, WriteRequest, WriteRequestRawLabels

STALE_MARKER = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
HEADERS = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
           "X-Prometheus-Remote-Write-Version": "0.1.0"}


def write_request(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> bytes:
    """The serialized WriteRequest of [(labels with __name__, [(ts ms, value), ...]), ...]."""
    return WriteRequest(timeseries=[
        TimeSeries(labels=[Label(name=name, value=value) for name, value in labels.items()],
                   samples=[Sample(timestamp=ts, value=value) for ts, value in samples])
        for labels, samples in series]).SerializeToString()


def snappy(data: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


def body(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> bytes:
    return snappy(write_request(series))


def with_raw_label(labels: dict[str, str], raw_label: bytes, sample: tuple[int, float]) -> bytes:
    """A serialized WriteRequest of one series whose labels include one given as its encoded bytes
    (to send what the message classes refuse to build, e.g. a value that is not UTF-8)."""
    request = WriteRequestRawLabels()
    series = request.timeseries.add()
    series.labels.extend([Label(name=name, value=value).SerializeToString() for name, value in labels.items()]
                         + [raw_label])
    series.samples.add(timestamp=sample[0], value=sample[1])
    return request.SerializeToString()

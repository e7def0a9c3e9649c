"""The ingest batch envelope passed from the edges (HTTP, MQTT) to the storage worker through RQ."""

from dataclasses import dataclass

import orjson

from .samples import Sample


@dataclass(frozen=True, slots=True)
class Batch:
    tenant_id: int
    batch_id: str
    received_ms: int
    samples: list[Sample]

    def encode(self) -> bytes:
        return orjson.dumps([self.tenant_id, self.batch_id, self.received_ms, self.samples])

    @classmethod
    def decode(cls, payload: bytes) -> "Batch":
        tenant_id, batch_id, received_ms, samples = orjson.loads(payload)
        if not (type(tenant_id) is int and type(batch_id) is str and type(received_ms) is int
                and type(samples) is list):
            raise ValueError("expected [tenant id, batch id, received ms, [samples]]")
        return cls(tenant_id, batch_id, received_ms, samples)  # [metric, labels, ts, value] lists unpack like tuples

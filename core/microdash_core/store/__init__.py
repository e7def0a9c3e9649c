"""The raw sample store: sealed chunks (`sample_chunks`) plus the head (`samples`).

Every reader of raw samples goes through `reads`; docs/storage.md describes the layout."""

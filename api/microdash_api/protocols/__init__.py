"""Decoders of the ingest protocols microdash speaks besides its own JSON, one module each: each turns
a request body into the common sample items that ingest_pipeline.admit takes."""

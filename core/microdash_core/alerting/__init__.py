"""Alerting domain: rules, the per-series state machine, silences, annotation templates and
notification signing. Pure code: no database, no Redis, time is always passed in."""

"""The Prometheus-compatible HTTP query API (served under /prometheus): parameters, envelope,
the MariaDB-backed series source for the PromQL engine (microdash_core.promql), and the series
catalog behind /series, /labels and /label/<name>/values."""

-- An alert rule may be a PromQL expression instead of a metric with matchers and an aggregation:
-- each series of its instant result is one alert instance, compared with the rule's threshold.
-- A rule has exactly one of the two; an expression rule stores metric '' and no matchers.
-- depends: 0008_audit_log

ALTER TABLE alert_rules
    ADD COLUMN expr TEXT NULL COMMENT 'PromQL (at most 2,000 characters); NULL = the metric rule' AFTER metric,
    ADD COLUMN eval_error VARCHAR(1000) NULL
        COMMENT 'why the last evaluation of expr failed (its states then stay as they were); NULL = it succeeded';

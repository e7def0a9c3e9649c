-- A silence for one rule goes with the rule (it could never match again), like the rule's states
-- and history. Silences left behind by rules deleted before this migration are removed first.
-- depends: 0005_token_broker_cleanup

DELETE s FROM silences s LEFT JOIN alert_rules r ON r.id = s.rule_id
WHERE s.rule_id IS NOT NULL AND r.id IS NULL;

ALTER TABLE silences
    ADD CONSTRAINT fk_silences_rule FOREIGN KEY (rule_id) REFERENCES alert_rules (id) ON DELETE CASCADE;

-- Tenants managed declaratively (the Kubernetes operator): who owns the tenant, and whether its
-- tokens get MQTT identities.
-- depends: 0003_alerting

ALTER TABLE tenants
    ADD COLUMN mqtt_enabled TINYINT(1) NOT NULL DEFAULT 1,
    ADD COLUMN owner VARCHAR(320) NULL COMMENT 'managing resource, e.g. kubernetes:<namespace>/<name>; NULL = CLI or API';

-- Channels no longer name files on the worker: cert_bundle (a path) goes, and a channel that
-- needs a private CA is given its certificates as PEM text (ca_pem). Such a channel now fails
-- with "tls error" until its owner sets ca_pem. Delivery errors recorded before this held raw
-- exception text (addresses, ports, server replies); only their coarse class is kept.
-- depends: 0006_silences_follow_rules

UPDATE notification_channels SET config = JSON_REMOVE(config, '$.cert_bundle')
WHERE JSON_CONTAINS_PATH(config, 'one', '$.cert_bundle');

UPDATE deliveries SET error = CASE
    WHEN http_status BETWEEN 300 AND 399 THEN 'http 3xx (redirects are not followed)'
    WHEN http_status BETWEEN 400 AND 599 THEN CONCAT('http ', http_status DIV 100, 'xx')
    ELSE 'delivery error'
END
WHERE error IS NOT NULL;

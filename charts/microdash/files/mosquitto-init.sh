#!/bin/sh
# Creates the dynamic-security state with the admin identity once; later starts keep it (the
# clients and ACLs in it are rebuilt from the database by `microdash broker sync`).
set -eu
state=/mosquitto/data/dynamic-security.json
if [ ! -f "$state" ]; then
    mosquitto_ctrl dynsec init "$state" microdash-admin "$MICRODASH_MQTT_ADMIN_PASSWORD"
fi

#!/bin/sh
# The official image's entrypoint contract, reduced to what the chart and compose.yaml use.
set -eu
if [ "${1#-}" != "$1" ]; then
    set -- mariadbd "$@"
fi
datadir=/var/lib/mysql
if [ "$1" = mariadbd ] && [ ! -d "$datadir/mysql" ]; then
    : "${MARIADB_ROOT_PASSWORD:?MARIADB_ROOT_PASSWORD is required for a new database}"
    echo "entrypoint: initialising an empty $datadir" >&2
    mariadb-install-db --datadir="$datadir" --auth-root-authentication-method=normal --skip-test-db \
        --skip-name-resolve >/dev/null
    quote() { printf "%s" "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g"; }
    root_password=$(quote "$MARIADB_ROOT_PASSWORD")
    {
        echo "FLUSH PRIVILEGES;"
        echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_password';"
        echo "CREATE USER 'root'@'%' IDENTIFIED BY '$root_password';"
        echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
        if [ -n "${MARIADB_DATABASE:-}" ]; then
            echo "CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
        fi
        if [ -n "${MARIADB_USER:-}" ] && [ -n "${MARIADB_PASSWORD:-}" ]; then
            echo "CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY '$(quote "$MARIADB_PASSWORD")';"
            if [ -n "${MARIADB_DATABASE:-}" ]; then
                echo "GRANT ALL ON \`$MARIADB_DATABASE\`.* TO '$MARIADB_USER'@'%';"
            fi
        fi
    } | mariadbd --bootstrap --datadir="$datadir" --skip-networking >/dev/null
fi
exec "$@"

"""Which failures are worth retrying: a dependency outage is temporary, a conflict is permanent."""

import kubernetes
import pymysql
import urllib3

from microdash_core.broker import BrokerCommandFailed, BrokerUnavailable

DATABASE_OUTAGES = (pymysql.err.OperationalError, pymysql.err.InterfaceError)
BROKER_OUTAGES = (BrokerUnavailable, BrokerCommandFailed)
KUBERNETES_OUTAGES = (kubernetes.client.ApiException, urllib3.exceptions.HTTPError)

"""Tenant state in Mosquitto's dynamic security plugin: the one place that turns a tenant and its
API tokens into broker clients, a role and an ACL.

- Each tenant has a role ``tenant-<name>`` allowed to publish under ``<root>/<name>/#`` and to
  subscribe to nothing, so the topic proves the tenant.
- Each active API token has a client: username = the token's public id, password derived from
  the server secret (HMAC), so the broker can be rebuilt from the database at any time.
- The bridge has its own client allowed only the shared subscription over every tenant prefix.
Every call is idempotent ("already exists" is success), and a resync changes nothing a connected
client would notice: Mosquitto disconnects a client whenever its password is set, so a password
is set only when the client's description mark shows that it holds another one.
"""

import base64
import hashlib
import hmac
import itertools
import logging
import threading
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson
import paho.mqtt.client as mqtt

from .errors import MicrodashError
from .settings import Settings

log = logging.getLogger(__name__)
CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"
BRIDGE_USERNAME = "microdash-bridge"
BRIDGE_ROLE = "microdash-bridge"
BRIDGE_GROUP = "microdash-bridge"
TENANT_ROLE_PREFIX = "tenant-"
PASSWORD_MARK_PREFIX = "microdash password "
IDEMPOTENT_ERRORS = ("already exists", "not found", "Client not found", "Role not found")


class BrokerUnavailable(MicrodashError):
    """The broker cannot be reached or did not answer in time."""


class BrokerCommandFailed(MicrodashError):
    pass


def tenant_prefix(settings: Settings, tenant_name: str) -> str:
    return f"{settings.mqtt_topic_root}/{tenant_name}/"


def bridge_subscription(settings: Settings) -> str:
    """A plain filter unless bridges share the load. Mosquitto 2.0 (2.0.11 and 2.0.21 alike) does not
    restore shared subscriptions from persistence: what devices publish after a broker restart and
    before a bridge subscribes again is acknowledged and dropped. A plain one is restored and queued."""
    plain = f"{settings.mqtt_topic_root}/+/#"
    return f"$share/{BRIDGE_GROUP}/{plain}" if settings.bridge_shared_subscription else plain


def bridge_subscription_patterns(settings: Settings) -> list[str]:
    """Both forms are granted, so a bridge can switch between them without a broker sync."""
    plain = f"{settings.mqtt_topic_root}/+/#"
    return [plain, f"$share/{BRIDGE_GROUP}/{plain}"]


def tenant_of_topic(settings: Settings, topic: str) -> str | None:
    root, _, rest = topic.partition("/")
    tenant, sep, _ = rest.partition("/")
    return tenant if root == settings.mqtt_topic_root and sep and tenant else None


def mqtt_password(settings: Settings, public_id: str) -> str:
    digest = hmac.new(settings.secret_key.encode(), f"mqtt:{public_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def password_mark(settings: Settings, password: str) -> str:
    """What a client's dynamic-security description records about its password. The broker never
    shows a password back, and setting one disconnects the client; comparing marks tells whether it
    must be set. Keyed with the server secret, so the mark tells nothing about the password."""
    digest = hmac.new(settings.secret_key.encode(), f"mqtt-password-mark:{password}".encode(), hashlib.sha256)
    return PASSWORD_MARK_PREFIX + digest.hexdigest()[:24]


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool

    @classmethod
    def from_url(cls, url: str) -> "BrokerAddress":
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"MQTT URL must start with mqtt:// or mqtts://, got {url!r}")
        return cls(parts.hostname or "127.0.0.1", parts.port or (8883 if parts.scheme == "mqtts" else 1883),
                   parts.scheme == "mqtts")


class BrokerAdmin:
    """A synchronous dynamic-security client; use as a context manager."""

    def __init__(self, settings: Settings, *, timeout: float = 5.0):
        self.settings = settings
        self.timeout = timeout
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self._client.username_pw_set(settings.mqtt_admin_username, settings.mqtt_admin_password)
        self._responses: dict[str, dict] = {}
        self._arrived = threading.Condition()
        # Every admin client sees every response on the shared response topic: correlation ids
        # carry a per-client prefix so that concurrent admins (operator, CLI) never take each other's.
        self._correlation_prefix = uuid.uuid4().hex[:12] + "-"
        self._ids = (f"{self._correlation_prefix}{n}" for n in itertools.count(1))
        self._client.on_message = self._on_message
        self._client.on_connect = self._on_connect
        self._connected = threading.Event()
        self._connect_reason = None

    def __enter__(self) -> "BrokerAdmin":
        address = BrokerAddress.from_url(self.settings.mqtt_url)
        if address.tls:
            self._client.tls_set()
        try:
            self._client.connect(address.host, address.port, keepalive=30)
        except OSError as exc:
            raise BrokerUnavailable(f"cannot reach MQTT broker at {self.settings.mqtt_url}: {exc}") from exc
        self._client.loop_start()
        if not self._connected.wait(self.timeout):
            self.__exit__()
            raise BrokerUnavailable(f"no CONNACK from the MQTT broker at {self.settings.mqtt_url}")
        if self._connect_reason.is_failure:
            self.__exit__()
            raise BrokerUnavailable(f"the broker refused the admin identity: {self._connect_reason}")
        result, _ = self._client.subscribe(RESPONSE_TOPIC, qos=1)
        if result != mqtt.MQTT_ERR_SUCCESS:
            raise BrokerUnavailable(f"cannot subscribe to {RESPONSE_TOPIC}: {mqtt.error_string(result)}")
        return self

    def __exit__(self, *exc_info) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        self._connect_reason = reason
        self._connected.set()

    def _on_message(self, client, userdata, message) -> None:
        for response in orjson.loads(message.payload).get("responses", []):
            if not str(response.get("correlationData", "")).startswith(self._correlation_prefix):
                continue  # another admin's
            with self._arrived:
                self._responses[response.get("correlationData", "")] = response
                self._arrived.notify_all()

    def command(self, command: str, **fields) -> dict:
        correlation = next(self._ids)
        payload = orjson.dumps({"commands": [{"command": command, "correlationData": correlation, **fields}]})
        self._client.publish(CONTROL_TOPIC, payload, qos=1)
        with self._arrived:
            if not self._arrived.wait_for(lambda: correlation in self._responses, timeout=self.timeout):
                raise BrokerUnavailable(f"no answer from the broker to {command} (is the admin password right?)")
            response = self._responses.pop(correlation)
        error = response.get("error")
        if error and not any(marker in error for marker in IDEMPOTENT_ERRORS):
            raise BrokerCommandFailed(f"{command}: {error}")
        return response

    # -- tenants ---------------------------------------------------------------------------

    def ensure_tenant(self, tenant_name: str, public_ids: list[str]) -> None:
        role = TENANT_ROLE_PREFIX + tenant_name
        self.command("createRole", rolename=role)
        self.command("addRoleACL", rolename=role, acltype="publishClientSend",
                     topic=tenant_prefix(self.settings, tenant_name) + "#", priority=0, allow=True)
        for public_id in public_ids:
            self.ensure_token_client(tenant_name, public_id)

    def ensure_token_client(self, tenant_name: str, public_id: str) -> None:
        self._ensure_client(public_id, mqtt_password(self.settings, public_id), TENANT_ROLE_PREFIX + tenant_name)

    def _ensure_client(self, username: str, password: str, role: str) -> None:
        """Create the client, or bring an existing one to this password and role. Mosquitto
        disconnects a client whenever its password or description is set, so an existing client is
        only changed when its password mark (see password_mark) shows that it holds another password:
        a new client, a new server secret or bridge password, or a client made before the mark."""
        mark = password_mark(self.settings, password)
        created = self.command("createClient", username=username, password=password, textdescription=mark,
                               roles=[{"rolename": role}])
        if not created.get("error"):
            return
        client = self.command("getClient", username=username).get("data", {}).get("client", {})
        if client.get("textdescription") != mark:
            # one command, one disconnection: the password and the mark change together
            self.command("modifyClient", username=username, password=password, textdescription=mark)
            log.info("MQTT client password set", extra={"username": username})
        if role not in {held.get("rolename") for held in client.get("roles", [])}:
            self.command("addClientRole", username=username, rolename=role)

    def remove_token_client(self, public_id: str) -> None:
        """Deleting a client also disconnects its live sessions."""
        self.command("deleteClient", username=public_id)

    def remove_tenant(self, tenant_name: str, public_ids: list[str]) -> None:
        for public_id in public_ids:
            self.remove_token_client(public_id)
        self.command("deleteRole", rolename=TENANT_ROLE_PREFIX + tenant_name)

    def token_clients(self) -> dict[str, str]:
        """Every client holding a tenant role: username -> tenant name."""
        listed = self.command("listClients", verbose=True, count=-1, offset=0)
        owners = {}
        for client in listed.get("data", {}).get("clients", []):
            for role in client.get("roles", []):
                if role.get("rolename", "").startswith(TENANT_ROLE_PREFIX):
                    owners[client["username"]] = role["rolename"].removeprefix(TENANT_ROLE_PREFIX)
        return owners

    # -- the bridge ------------------------------------------------------------------------

    def ensure_bridge(self) -> None:
        self.command("createRole", rolename=BRIDGE_ROLE)
        for pattern in bridge_subscription_patterns(self.settings):
            self.command("addRoleACL", rolename=BRIDGE_ROLE, acltype="subscribePattern",
                         topic=pattern, priority=0, allow=True)
        self._ensure_client(BRIDGE_USERNAME, self.settings.mqtt_bridge_password, BRIDGE_ROLE)

"""The egress policy on its own: which addresses a notification may reach, and the operator's
allow-list setting."""

import ipaddress

import pydantic
import pytest

from microdash_core.egress import EgressPolicy, EgressRefused, check_target
from microdash_core.settings import Settings

INTERNAL = {
    "127.0.0.1": "loopback", "127.9.9.9": "loopback", "::1": "loopback",
    "10.1.2.3": "private", "172.16.0.1": "private", "192.168.1.1": "private",
    "169.254.169.254": "link-local", "fe80::1": "link-local",
    "100.64.0.1": "shared address space (CGNAT)", "fc00::1": "unique local", "fd12:3456::1": "unique local",
    "224.0.0.1": "multicast", "ff02::1": "multicast", "0.0.0.0": "unspecified", "::": "unspecified",
    "240.0.0.1": "private", "192.0.0.8": "reserved",
    # IPv6 forms of internal IPv4 addresses: mapped, 6to4, NAT64
    "::ffff:127.0.0.1": "loopback", "::ffff:169.254.169.254": "link-local", "::ffff:10.0.0.1": "private",
    "2002:a9fe:a9fe::1": "link-local", "64:ff9b::7f00:1": "loopback",
}


@pytest.mark.parametrize(("address", "category"), INTERNAL.items())
def test_internal_addresses_are_refused(address, category):
    assert EgressPolicy().refusal(ipaddress.ip_address(address)) == category


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert EgressPolicy().refusal(ipaddress.ip_address(address)) is None


def test_the_allow_list_lets_exactly_its_networks_through():
    policy = EgressPolicy(allowed=(ipaddress.ip_network("10.20.0.0/16"), ipaddress.ip_network("127.0.0.1/32")))
    assert policy.refusal(ipaddress.ip_address("10.20.3.4")) is None
    assert policy.refusal(ipaddress.ip_address("::ffff:10.20.3.4")) is None
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert policy.refusal(ipaddress.ip_address("10.21.0.1")) == "private"
    assert policy.refusal(ipaddress.ip_address("127.0.0.2")) == "loopback"


def test_names_are_checked_on_every_address_they_resolve_to():
    with pytest.raises(EgressRefused, match="localhost is an internal address"):
        check_target("localhost", 80, EgressPolicy())
    check_target("no-such-host.invalid", 80, EgressPolicy())  # unresolvable at save time: the send checks it


def test_the_allow_list_setting_is_comma_separated_and_checked(monkeypatch):
    monkeypatch.setenv("MICRODASH_NOTIFY_ALLOWED_CIDRS", "10.0.0.0/8, fd00::/8")
    assert Settings().notify_allowed_cidrs == [ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]
    monkeypatch.setenv("MICRODASH_NOTIFY_ALLOWED_CIDRS", "10.0.0.1/8")
    with pytest.raises(pydantic.ValidationError, match="notify_allowed_cidrs"):
        Settings()
    monkeypatch.delenv("MICRODASH_NOTIFY_ALLOWED_CIDRS")
    assert Settings().notify_allowed_cidrs == []

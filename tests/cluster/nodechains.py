"""The node's iptables chains, told apart from the host's other software's (kubenode.py).

kube-proxy and the kubelet make KUBE-* chains, the CNI plugins CNI-* chains, prepare_host the
FORWARD_CHAIN. Podman's CNI networks make CNI-* chains too (and the portmap plugin's
CNI-HOSTPORT-* chains are shared by every CNI network on the host), so stopping the node removes
only chains with those prefixes that did not exist when it started and that hold no rule of another
CNI network; then the rules of other chains that jump to a removed chain. The planning is pure
(`iptables-save` text in, commands out), so it is tested without a node.
"""

import re
import shlex

from nodebase import CHAIN_PREFIXES, CNI_NETWORK, run

TOOLS = ("iptables", "ip6tables")
# The CNI plugins tag their rules with the network's name: --comment "name: \"<network>\" id: \"<container>\""
_NETWORK_COMMENT = re.compile(r'name: "([^"]+)"')

Tables = dict[str, dict[str, list[list[str]]]]  # table -> chain -> its rules (argv after "-A <chain>")


def parse_save(text: str) -> Tables:
    """`iptables-save` output as table -> chain -> rules; built-in and user chains alike."""
    tables: Tables = {}
    table = None
    for line in text.splitlines():
        if line.startswith("*"):
            table = tables.setdefault(line[1:].strip(), {})
        elif line.startswith(":") and table is not None:
            table.setdefault(line[1:].split()[0], [])
        elif line.startswith("-A ") and table is not None:
            parts = shlex.split(line)
            table.setdefault(parts[1], []).append(parts[2:])
    return tables


def chains_made(before: Tables, now: Tables) -> dict[str, list[str]]:
    """Per table, the chains the node made: our prefixes, absent before it started, and free of
    any other CNI network's rules."""
    made = {}
    for table, chains in now.items():
        existed = before.get(table, {})
        ours = [name for name, rules in chains.items()
                if name.startswith(CHAIN_PREFIXES) and name not in existed and not _foreign(rules)]
        if ours:
            made[table] = ours
    return made


def removal_plan(before: Tables, now: Tables) -> list[list[str]]:
    """iptables arguments, in order: delete the jumps into the node's chains from everyone else's,
    flush the node's chains, delete them."""
    plan = []
    for table, ours in chains_made(before, now).items():
        for chain, rules in now[table].items():
            if chain in ours:
                continue
            plan += [["-t", table, "-D", chain, *rule] for rule in rules if _jumps_into(rule, ours)]
        plan += [["-t", table, "-F", chain] for chain in ours]
        plan += [["-t", table, "-X", chain] for chain in ours]
    return plan


def _foreign(rules: list[list[str]]) -> bool:
    networks = {name for rule in rules for word in rule for name in _NETWORK_COMMENT.findall(word)}
    return bool(networks - {CNI_NETWORK})


def _jumps_into(rule: list[str], chains: list[str]) -> bool:
    return any(flag in ("-j", "-g") and target in chains for flag, target in zip(rule, rule[1:]))


def snapshot() -> dict[str, str]:
    """`iptables-save` of each tool, as recorded when the node starts ("" where a tool is missing)."""
    return {tool: _save(tool) for tool in TOOLS}


def remove_chains(before: dict[str, str]) -> None:
    """Removes the chains the node made since `before` (a snapshot())."""
    for tool in TOOLS:
        for arguments in removal_plan(parse_save(before.get(tool, "")), parse_save(_save(tool))):
            run([tool, *arguments], check=False)


def _save(tool: str) -> str:
    try:
        return run([f"{tool}-save"], check=False).stdout
    except FileNotFoundError:
        return ""



def prefixed_chains() -> set[tuple[str, str, str]]:
    """(tool, table, chain) of every chain with the node's prefixes on the host now."""
    return {(tool, table, chain) for tool in TOOLS for table, chains in parse_save(_save(tool)).items()
            for chain in chains if chain.startswith(CHAIN_PREFIXES)}

"""Only the core's tenant family (microdash_core.tenants) queries the tenant tables: import-linter
checks imports, not SQL, so the statements themselves are read here from every module's string
literals (docstrings aside)."""

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE_ROOTS = ("core/microdash_core", "api/microdash_api", "workers/microdash_workers", "bridge/microdash_bridge",
                "operator/microdash_operator", "cli/microdash_cli", "bench")
FAMILY = REPO / "core/microdash_core/tenants"
TENANT_TABLE_STATEMENT = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+`?(tenants|api_tokens|users|memberships)\b")


def tenant_table_statements(source: str) -> list[tuple[int, str]]:
    """(line, statement) of every string literal that reads or writes a tenant table."""
    tree = ast.parse(source)
    docstrings = {id(node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if TENANT_TABLE_STATEMENT.search(node.value):
                found.append((node.lineno, node.value))
    return found


def python_files() -> list[Path]:
    return [path for root in SOURCE_ROOTS for path in sorted((REPO / root).rglob("*.py"))]


def test_no_module_outside_the_tenant_family_queries_the_tenant_tables():
    outside = {f"{path.relative_to(REPO)}:{line}": statement
               for path in python_files() if FAMILY not in path.parents
               for line, statement in tenant_table_statements(path.read_text())}
    assert outside == {}, "move these statements into microdash_core.tenants"


def test_the_family_itself_is_seen_querying_each_tenant_table():
    tables = {match.group(1) for path in FAMILY.glob("*.py")
              for _line, statement in tenant_table_statements(path.read_text())
              for match in TENANT_TABLE_STATEMENT.finditer(statement)}
    assert tables == {"tenants", "api_tokens", "users", "memberships"}


def test_statements_are_found_however_they_are_written():
    source = '''
"""A docstring may say `UPDATE tenants` without being a query."""
def lookup(cursor, name, column):
    """Nor does this: SELECT id FROM tenants."""
    cursor.execute("SELECT k.token_hash FROM api_tokens k"
                   " JOIN tenants t ON t.id = k.tenant_id WHERE k.public_id = %s", (name,))
    cursor.execute(f"SELECT COALESCE({column}, 0) FROM tenants")
    sql = "DELETE FROM memberships WHERE user_id = %s"
    cursor.execute("INSERT INTO users (email) VALUES (%s)", (name,))
    cursor.execute("SELECT id FROM series WHERE tenant_id = %s", (name,))
'''
    assert sorted(line for line, _ in tenant_table_statements(source)) == [5, 7, 8, 9]

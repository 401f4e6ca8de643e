"""Docker Compose's variable substitution, for testing docker-compose.yml without Docker.

The rules (https://docs.docker.com/compose/how-tos/environment-variables/variable-interpolation/),
applied to every string value after YAML parsing, as Compose does:

    $$                 a literal $
    $VAR, ${VAR}       the value; unset gives "" (Compose warns)
    ${VAR:-default}    default when VAR is unset or empty
    ${VAR-default}     default when VAR is unset
    ${VAR:?message}    an error when VAR is unset or empty
    ${VAR?message}     an error when VAR is unset

Variables come from a `.env` file (KEY=VALUE lines, # comments, optional quotes). Nested
substitution inside a default and the `:+` forms are not used by our file and are refused, so a
change that starts using them fails here instead of being read differently from Compose.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_TOKEN = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:-|-|:\?|\?)(?P<arg>[^}$]*))?\}"
    r"|(?P<invalid>))"
)


class ComposeError(ValueError):
    """What `docker compose` refuses to start with (a required variable is missing, say)."""


def parse_env_file(text: str) -> dict[str, str]:
    """A `.env` file as Compose reads it (the simple forms: KEY=VALUE, quotes, comments)."""
    values: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ComposeError(f"not KEY=VALUE: {line!r}")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def substitute(value: str, env: Mapping[str, str]) -> str:
    """One string with every variable replaced; raises ComposeError as Compose would."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("invalid") is not None:
            raise ComposeError(f"invalid interpolation format in {value!r}")
        name = match.group("bare") or match.group("name")
        op, arg = match.group("op"), match.group("arg") or ""
        current = env.get(name)
        missing = current is None or (current == "" and op in (":-", ":?"))
        if op in (":?", "?") and missing:
            raise ComposeError(f"required variable {name} is missing a value: {arg}")
        if op in (":-", "-") and missing:
            return arg
        return current or ""

    return _TOKEN.sub(replace, value)


def interpolate(node: Any, env: Mapping[str, str]) -> Any:
    """The parsed compose file with every string value substituted (keys are left alone)."""
    if isinstance(node, str):
        return substitute(node, env)
    if isinstance(node, dict):
        return {key: interpolate(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(item, env) for item in node]
    return node

"""The README's benchmark commands keep working: every bench/*.py starts and answers --help.

Nothing else checks the benchmarks' imports (they reach into tests/support/ and the bot), so a
helper renamed or removed would otherwise break a documented command without any test failing.
The benchmarks share only tests/support/, never a test module: a test file stays free to change.
"""

from __future__ import annotations

import ast
import asyncio
import os
import sys

from tests.support.harness import ROOT

SCRIPTS = sorted((ROOT / "bench").glob("*.py"))


async def _help(script_name: str) -> tuple[str, int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / script_name),
        "--help",
        cwd=ROOT,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return script_name, process.returncode, output.decode()


async def test_every_bench_script_imports_and_answers_help() -> None:
    assert len(SCRIPTS) >= 8  # the glob found the folder
    # All at once: each start is mostly importing the bot, and they do not share state.
    results = await asyncio.gather(*(_help(script.name) for script in SCRIPTS))
    broken = {name: output[-1500:] for name, code, output in results if code != 0}
    assert broken == {}
    for name, _, output in results:
        if name != "faults.py":  # a helper module for the fault benchmarks, no command line
            assert "usage:" in output, (name, output[-500:])


def _imported_modules(source: str) -> set[str]:
    """Every module a script imports, at the top or inside a function (`from a import b` as a.b)."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def test_no_bench_script_imports_a_test_module() -> None:
    offending = {
        script.name: sorted(
            module
            for module in _imported_modules(script.read_text())
            if module.startswith("tests.") and not module.startswith("tests.support")
        )
        for script in SCRIPTS
    }
    assert {name: modules for name, modules in offending.items() if modules} == {}

"""Every RUN of a Dockerfile parsed by dash and busybox sh: the oracle for rewritten RUNs."""

from __future__ import annotations

from pinner import dockerfile, reproducible, syntax
from pinner.apt import shell


def checkers() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """dash and busybox sh, both required: a test that checked with neither would prove nothing."""
    found = syntax.shells("sh")
    assert [name for name, _ in found] == ["dash", "busybox sh"], "install dash and busybox"
    return found


def run_errors(text: str) -> list[str]:
    """`line: shell: error` for each RUN script of text that dash or busybox sh cannot parse."""
    escape = dockerfile.escape_char(text)
    found = []
    for instruction in dockerfile.instructions(text):
        if instruction.keyword != "RUN":
            continue
        run = reproducible.shell_text(text, instruction)
        for runner, script in shell.scripts(run, escape=escape):
            if runner in ("", "sh", "dash", "ash"):
                found += [f"{instruction.line}: {e}" for e in syntax.errors(script, checkers())]
    return found

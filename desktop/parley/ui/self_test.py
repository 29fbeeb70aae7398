"""`parley --self-test`: what the started window reports (providers, problems, the keyring)."""

from __future__ import annotations

from dataclasses import dataclass

from parley.ui.services import Services


@dataclass
class SelfTestReport:
    providers: int
    problems: list[str]
    keyring: str
    fatal: str | None = None
    lab: str = ""  # what the Lab did with `parley FILE.toml --self-test`


def self_test_report(services: Services, *, visible: bool) -> SelfTestReport:
    keys = services.keys
    try:
        name = keys.backend_name()
        available = keys.backend_available()
    except Exception as exc:
        name, available = f"error ({type(exc).__name__})", False
    keyring = name if available else f"{name} (unavailable: keys kept for this session only)"
    problems = list(services.problems)
    if services.store_error is not None:
        problems.append(f"history: {services.store_error.message}")
    fatal = None if visible else "the main window is not visible"
    return SelfTestReport(len(services.catalog.providers), problems, keyring, fatal)

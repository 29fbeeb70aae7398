"""Provider emulator: the test double at the network boundary (independent of parley).

    with Emulator() as emu:
        emu.push(Behavior(status=429, headers={"Retry-After": "1"}), provider="euri")
        url, key = emu.base_url("euri"), emu.key("euri")

Run by hand: `python -m tests.helpers.emulator --port 8765 [--chunk-delay 0.05]`.
"""

from .behavior import Behavior, RecordedRequest
from .dialects import LOCAL_PROVIDERS, PROVIDERS
from .server import Emulator

__all__ = ["LOCAL_PROVIDERS", "PROVIDERS", "Behavior", "Emulator", "RecordedRequest"]

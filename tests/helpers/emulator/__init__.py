"""Provider emulator: the test double at the network boundary (never imports parley).

A real HTTP/1.1 server on 127.0.0.1 (asyncio, in a background thread) speaking the dialects of
euri, eurouter, eigenai, nordlys and adaptive-engine; any other id (openai, openai-compatible,
ollama, vllm, ...) speaks generic OpenAI. Keep-alive with Content-Length or chunked encoding.

    with Emulator() as emu:                      # or emu.start() / emu.stop(); port 0 = free
        url = emu.base_url("euri")               # http://127.0.0.1:PORT/euri/v1
        key = emu.key("euri")                    # the key it accepts; others get a 401
        emu.push(Behavior(status=503, repeat=2), provider="euri")   # fail twice, then default
        emu.push(Behavior(text="hi", chunk_delay=0.01))             # next request, any provider
        emu.default = Behavior(reasoning="...")  # when the queues are empty
        emu.requests                             # [RecordedRequest(method, path, headers, json, t)]
        emu.connections_open, emu.active_streams, emu.wait_idle(), emu.errors
        emu.set_models("openai", {"data": []}, status=200)
        emu.clear()                              # requests, queues, model overrides, errors

Routes: POST /<id>/v1/chat/completions and GET /<id>/v1/models; GET / lists providers and keys.
It also answers absolute-form requests, so it doubles as a plain-HTTP proxy for
http://any.host/<id>/v1 (RecordedRequest.path is then the absolute URL).
Auth: Bearer everywhere; nordlys also X-API-Key, eurouter also x-api-key; eurouter's /models and
local ids (ollama, lmstudio, llamacpp, vllm, local; see `emu.no_auth`) need none. A wrong key
is echoed as "abc12***" (Emulator(echo_full_key=True) echoes it whole). Emulator(validate=False)
turns off the documented 400s (see validate.py). See Behavior for every knob and fault.

Run by hand: `python -m tests.helpers.emulator --port 8765 [--chunk-delay 0.05]`.
"""

from .behavior import Behavior, RecordedRequest
from .dialects import LOCAL_PROVIDERS, PROVIDERS
from .server import Emulator

__all__ = ["LOCAL_PROVIDERS", "PROVIDERS", "Behavior", "Emulator", "RecordedRequest"]

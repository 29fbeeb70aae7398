"""Small real images for tests that attach one."""

from __future__ import annotations

import base64

# A real 2x2 PNG (so views can show a thumbnail), base64 as an ImagePart carries it.
PNG_BASE64 = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d49484452000000020000000208020000"
        "00fdd49a73000000164944415478"
        "9c63f8cfc0c0f01f0418181818fe030010f103fdb8a2e40a0000000049454e44ae426082"
    )
).decode()

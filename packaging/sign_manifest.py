"""Write the signed update manifest for a release, or make a new signing key pair.

    python packaging/sign_manifest.py new-key KEYFILE
        writes a new raw Ed25519 private key (hex) to KEYFILE (mode 600) and prints the public
        key for PUBLIC_KEY in desktop/parley/core/app/updates.py
    PARLEY_UPDATE_KEY=<hex private key> python packaging/sign_manifest.py sign VERSION URL OUT
        writes OUT (update-manifest.json) announcing VERSION with its release page URL

The private key never enters the repository: the release workflow has it as the
`PARLEY_UPDATE_KEY` secret (packaging/SIGNING.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "desktop"))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from parley.core.app.updates import Release, sign_manifest, verify_manifest


def main(argv: list[str]) -> int:
    if argv[:1] == ["new-key"] and len(argv) == 2:
        key = Ed25519PrivateKey.generate()
        path = Path(argv[1])
        path.touch(mode=0o600)
        path.write_text(key.private_bytes_raw().hex() + "\n")
        public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        print(f"public key: {public.hex()}")
        return 0
    if argv[:1] == ["sign"] and len(argv) == 4:
        private = bytes.fromhex(os.environ["PARLEY_UPDATE_KEY"].strip())
        raw = sign_manifest(Release(argv[1], argv[2]), private)
        public = Ed25519PrivateKey.from_private_bytes(private).public_key()
        verify_manifest(raw, public.public_bytes(Encoding.Raw, PublicFormat.Raw))
        Path(argv[3]).write_bytes(raw)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

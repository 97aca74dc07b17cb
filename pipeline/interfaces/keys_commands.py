"""``phi-pipeline keys``: create, rotate, retire and list the keys in a keyring file.

Why a command: operators should never hand-edit key material. Every subcommand prints key ids,
purposes, status and creation times only; key material is written to the file (mode 0600, atomic
replace) and nowhere else. Rotation adds a version that protects new data at once while older versions
keep verifying and decrypting; redeploy the keyring to every worker after changing it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.core.crypto.keyring import Key, KeyPurpose, Keyring, KeyringError


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``keys`` command and its subcommands to the top-level CLI parser."""
    keys = subparsers.add_parser("keys", help="manage the keyring file (init, rotate, retire, list)")
    sub = keys.add_subparsers(dest="keys_command", required=True, metavar="{init,rotate,retire,list}")

    init = sub.add_parser("init", help="write a new keyring with version 1 of every key purpose")
    init.add_argument("--path", required=True, type=Path, help="keyring file to create (mode 0600)")
    init.add_argument("--force", action="store_true", help="overwrite an existing keyring (destroys its keys)")
    init.set_defaults(func=_init)

    rotate = sub.add_parser("rotate", help="add a new key version for a purpose; new data uses it at once")
    rotate.add_argument("--path", required=True, type=Path, help="keyring file")
    rotate.add_argument("--purpose", required=True, choices=[p.value for p in KeyPurpose], help="which key to rotate")
    rotate.set_defaults(func=_rotate)

    retire = sub.add_parser("retire", help="retire a key id; data protected with it is refused from then on")
    retire.add_argument("--path", required=True, type=Path, help="keyring file")
    retire.add_argument("--key-id", required=True, help="key id such as token-v1 (see: keys list)")
    retire.set_defaults(func=_retire)

    listing = sub.add_parser("list", help="show key ids, purposes, status and creation time (never material)")
    listing.add_argument("--path", required=True, type=Path, help="keyring file")
    listing.set_defaults(func=_list)


def _line(key: Key) -> str:
    d = key.describe()
    return f"{d['key_id']:<18} {d['purpose']:<12} {d['status']:<8} {d['created']}"


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _init(args: argparse.Namespace) -> int:
    path: Path = args.path
    if path.exists() and not args.force:
        return _fail(f"{path} already exists; pass --force to replace it (its keys are lost for good)")
    keyring = Keyring.generate()
    try:
        keyring.save(path)
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror}")
    print(f"wrote keyring {path} (mode 0600) with {len(keyring)} keys:")
    for key in keyring:
        print(_line(key))
    return 0


def _modify(args: argparse.Namespace, change: str) -> int:
    path: Path = args.path
    try:
        keyring = Keyring.load(path)
        if change == "rotate":
            key = keyring.rotate(KeyPurpose(args.purpose))
            message = f"added {key.key_id}; new data now uses it, older versions still read"
        else:
            key = keyring.retire(args.key_id)
            message = f"retired {key.key_id}; data protected with it is now refused"
        keyring.save(path)
    except KeyringError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror}")
    print(message)
    print("redeploy the keyring to every worker and producer for the change to take effect")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    return _modify(args, "rotate")


def _retire(args: argparse.Namespace) -> int:
    return _modify(args, "retire")


def _list(args: argparse.Namespace) -> int:
    try:
        keyring = Keyring.load(args.path)
    except KeyringError as exc:
        return _fail(str(exc))
    print(f"{'KEY ID':<18} {'PURPOSE':<12} {'STATUS':<8} CREATED")
    for key in keyring:
        print(_line(key))
    return 0

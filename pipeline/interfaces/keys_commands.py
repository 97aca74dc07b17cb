"""``phi-pipeline keys``: create, rotate, retire and list the keys in a keyring file.

With OpenBao (issue 16) the file holds only wrapped keys: ``init --wrapped`` makes one, ``wrap``
migrates a plain keyring, ``rotate``/``retire``/``list`` work on either form, ``rotate-kek`` rotates
the transit keys and rewraps every entry inside OpenBao, ``openbao-setup`` prepares a server (transit
keys, one policy per workload, AppRoles) and ``openbao-policy`` prints a workload's policy. These use
the administrator's OpenBao login from the ``PHI_OPENBAO_*`` settings; its policy (``phi-admin``) can
wrap, rewrap and rotate, never unwrap.

Why a command: operators should never hand-edit key material. Every subcommand prints key ids,
purposes, status and creation times only; key material is written to the file (mode 0600, atomic
replace) and nowhere else. Rotation adds a version that protects new data at once while older versions
keep verifying and decrypting; redeploy the keyring to every worker after changing it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from pipeline.config import Settings
from pipeline.core.crypto.custody import (
    WORKLOAD_PURPOSES,
    KmsError,
    WrappedKey,
    WrappedKeyring,
    load_keyring_document,
    wrap_keyring,
)
from pipeline.core.crypto.keyring import Key, KeyPurpose, Keyring, KeyringError
from pipeline.runtime.openbao import ADMIN, OpenBaoTransit, setup_transit, workload_policy

#: What ``keys export`` hands other teams (docs/contract.md, section 3.2): the HMAC keys, never the others.
EXPORTABLE = (KeyPurpose.INGEST_HMAC, KeyPurpose.EGRESS_HMAC)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``keys`` command and its subcommands to the top-level CLI parser."""
    keys = subparsers.add_parser("keys", help="manage the keyring file (init, rotate, retire, list)")
    sub = keys.add_subparsers(
        dest="keys_command",
        required=True,
        metavar="{init,rotate,retire,list,export,wrap,rotate-kek,openbao-setup,openbao-policy}",
    )

    init = sub.add_parser("init", help="write a new keyring with version 1 of every key purpose")
    init.add_argument("--path", required=True, type=Path, help="keyring file to create (mode 0600)")
    init.add_argument("--force", action="store_true", help="overwrite an existing keyring (destroys its keys)")
    init.add_argument("--wrapped", action="store_true", help="keys wrapped by OpenBao (PHI_OPENBAO_*), none in clear")
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

    export = sub.add_parser(
        "export", help="write a keyring of one HMAC purpose only, for a producer (ingest) or consumer (egress) team"
    )
    export.add_argument("--path", required=True, type=Path, help="plain keyring file to read")
    export.add_argument("--purpose", required=True, choices=[p.value for p in EXPORTABLE], help="which keys")
    export.add_argument("--out", required=True, type=Path, help="keyring file to write (mode 0600)")
    export.set_defaults(func=_export)

    wrap = sub.add_parser("wrap", help="wrap a plain keyring's keys with OpenBao into a wrapped keyring file")
    wrap.add_argument("--path", required=True, type=Path, help="plain keyring file to read")
    wrap.add_argument("--out", required=True, type=Path, help="wrapped keyring file to write")
    wrap.set_defaults(func=_wrap)

    kek = sub.add_parser("rotate-kek", help="rotate OpenBao's transit keys and rewrap every key (no downtime)")
    kek.add_argument("--path", required=True, type=Path, help="wrapped keyring file")
    kek.add_argument("--purpose", action="append", choices=[p.value for p in KeyPurpose], help="only these")
    kek.add_argument(
        "--retire-old-versions",
        action="store_true",
        help="then refuse copies wrapped by older KEK versions (after a suspected leak of the keyring file)",
    )
    kek.set_defaults(func=_rotate_kek)

    setup = sub.add_parser("openbao-setup", help="transit keys, per-workload policies and AppRoles (admin token)")
    setup.add_argument(
        "--approle", action="append", default=[], choices=[*WORKLOAD_PURPOSES, ADMIN], help="create an AppRole"
    )
    setup.add_argument("--credentials-out", type=Path, help="write the AppRoles' ids as JSON here (mode 0600)")
    setup.set_defaults(func=_openbao_setup)

    policy = sub.add_parser("openbao-policy", help="print the OpenBao policy (HCL) of a workload")
    policy.add_argument("workload", choices=[*WORKLOAD_PURPOSES, ADMIN])
    policy.set_defaults(func=_openbao_policy)


def _line(key: Key | WrappedKey) -> str:
    d = key.describe()
    wrapped = f"  wrapped by {d['kek']} v{d['kek_version']}" if "kek" in d else ""
    return f"{d['key_id']:<18} {d['purpose']:<12} {d['status']:<8} {d['created']}{wrapped}"


def _report(headline: str, keys: Iterable[Key | WrappedKey]) -> int:
    """What was written: a headline, then one line per key (never material). Success."""
    print(headline)
    for key in keys:
        print(_line(key))
    return 0


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


def _init(args: argparse.Namespace) -> int:
    path: Path = args.path
    if path.exists() and not args.force:
        return _fail(f"{path} already exists; pass --force to replace it (its keys are lost for good)")
    keyring = Keyring.generate()
    try:
        if args.wrapped:
            wrapped = wrap_keyring(keyring, _admin_kms(), **_layout())
            del keyring  # the clear keys were only ever in this process's memory
            wrapped.save(path)
            return _report(f"wrote wrapped keyring {path} with {len(wrapped)} keys (none in clear):", wrapped)
        keyring.save(path)
    except (KmsError, KeyringError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror}")
    return _report(
        f"wrote keyring {path} (mode 0600) with {len(keyring)} keys (PLAIN: keys in clear, for the demo):", keyring
    )


def _admin_kms() -> OpenBaoTransit:
    from pipeline.interfaces.components import openbao_transit

    return openbao_transit(Settings.from_env())


def _layout() -> dict[str, str]:
    return {"mount": Settings.from_env().openbao_transit_mount}


def _modify(args: argparse.Namespace, change: str) -> int:
    path: Path = args.path
    try:
        document = load_keyring_document(path)
        if isinstance(document, WrappedKeyring):
            if change == "rotate":
                document, entry = document.with_new_key(KeyPurpose(args.purpose), _admin_kms())
                message = f"added {entry.key_id} (wrapped by {entry.kek}); new data uses it once workers restart"
            else:
                document = document.retired(args.key_id)
                message = f"retired {args.key_id}; data protected with it is refused once workers restart"
            document.save(path)
        else:
            if change == "rotate":
                key = document.rotate(KeyPurpose(args.purpose))
                message = f"added {key.key_id}; new data now uses it, older versions still read"
            else:
                key = document.retire(args.key_id)
                message = f"retired {key.key_id}; data protected with it is now refused"
            document.save(path)
    except (KeyringError, KmsError) as exc:
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
        document = load_keyring_document(args.path)
    except KeyringError as exc:
        return _fail(str(exc))
    kind = "wrapped by OpenBao transit" if isinstance(document, WrappedKeyring) else "PLAIN (keys in clear)"
    print(f"keyring {args.path}: {kind}")
    print(f"{'KEY ID':<18} {'PURPOSE':<12} {'STATUS':<8} CREATED")
    for key in document:
        print(_line(key))
    return 0


def _export(args: argparse.Namespace) -> int:
    """The keys of one HMAC purpose (every version and status) in a keyring file of their own."""
    try:
        document = load_keyring_document(args.path)
        if isinstance(document, WrappedKeyring):
            return _fail(
                f"{args.path} holds wrapped keys; export the HMAC keys from the plain keyring before wrapping it, "
                "or have a workload with unwrap rights for this purpose write them"
            )
        subset = Keyring(document.keys(KeyPurpose(args.purpose)))
        subset.save(args.out)
    except KeyringError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc.strerror}")
    return _report(
        f"wrote {args.out} (mode 0600) with the {len(subset)} {args.purpose} keys only (in clear: a secret):", subset
    )


def _wrap(args: argparse.Namespace) -> int:
    try:
        document = load_keyring_document(args.path)
        if isinstance(document, WrappedKeyring):
            return _fail(f"{args.path} is already wrapped")
        wrapped = wrap_keyring(document, _admin_kms(), **_layout())
        wrapped.save(args.out)
    except (KeyringError, KmsError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc.strerror}")
    print(f"wrote wrapped keyring {args.out} with {len(wrapped)} keys; now shred {args.path} (it holds them in clear)")
    return 0


def _rotate_kek(args: argparse.Namespace) -> int:
    purposes = [KeyPurpose(p) for p in args.purpose] if args.purpose else list(KeyPurpose)
    try:
        document = load_keyring_document(args.path)
        if not isinstance(document, WrappedKeyring):
            return _fail(f"{args.path} is a plain keyring: wrap it first (phi-pipeline keys wrap)")
        kms = _admin_kms()
        keks = sorted({e.kek for p in purposes for e in document.of(p)})
        versions = {kek: kms.rotate(kek) for kek in keks}
        rewrapped = document.rewrapped(kms, purposes)
        rewrapped.save(args.path)
        if args.retire_old_versions:
            for kek, version in versions.items():
                kms.set_min_decryption_version(kek, version)
    except (KeyringError, KmsError) as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write {args.path}: {exc.strerror}")
    for kek, version in versions.items():
        print(f"rotated {kek} to v{version}")
    print(f"rewrapped {len(rewrapped)} keys in {args.path}")
    if args.retire_old_versions:
        print("older KEK versions retired: copies of the keyring from before this rotation no longer unwrap;")
        print("redeploy this file to every worker and the reveal service NOW (they cannot restart on the old one)")
    else:
        print("copies wrapped by older KEK versions still unwrap until --retire-old-versions; redeploy when convenient")
    return 0


def _openbao_setup(args: argparse.Namespace) -> int:
    kms = _admin_kms()
    try:
        kms.login()
        credentials = setup_transit(kms.client, mount=kms.config.mount, approles=args.approle)
    except KmsError as exc:
        return _fail(str(exc))
    print(f"transit engine at {kms.config.mount}/: one key per purpose, policies phi-<workload> written")
    if credentials:
        if args.credentials_out is None:
            return _fail("--approle needs --credentials-out (secret ids are never printed)")
        from pipeline.core.crypto.keyring import write_private_file

        payload = {w: {"role_id": c.role_id, "secret_id": c.secret_id} for w, c in credentials.items()}
        write_private_file(args.credentials_out, (json.dumps(payload, indent=2) + "\n").encode())
        print(f"AppRole credentials for {', '.join(credentials)} written to {args.credentials_out} (mode 0600)")
    return 0


def _openbao_policy(args: argparse.Namespace) -> int:
    print(workload_policy(args.workload, Settings.from_env().openbao_transit_mount), end="")
    return 0

"""``voxtune push DIR REPO``: a tune or an export folder to the Hugging Face Hub.

DIR is a tune's output folder (``tune-summary.json``, ``adapter/``, ``merged/``), an export
folder (``export-report.json``), or a folder holding several of them. A model card
(``README.md``: base model, data, WER before and after, the exports with size, WER and
real-time factor, licence, how to run each) with ``model-index`` metadata is written for it;
the repository is created if needed and the folder uploaded in one commit (training
checkpoints and pickled files stay behind). The token comes from $HF_TOKEN, ``--token-env
VAR`` or ``hf auth login``, and is never printed. ``HF_ENDPOINT`` selects another Hub.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "push", help="publish a tune or an export to the Hugging Face Hub", description=__doc__
    )
    parser.add_argument("folder", type=Path, metavar="DIR", help="tune or export folder")
    parser.add_argument("repo_id", metavar="REPO", help="Hub repository, org/name")
    parser.add_argument("--private", action="store_true", help="create the repository private")
    parser.add_argument(
        "--token-env", default=None, metavar="VAR",
        help="environment variable holding the token (default: HF_TOKEN, else the saved login)",
    )  # fmt: skip
    parser.add_argument(
        "--license", default=None, metavar="ID",
        help="licence id for the card (default: the base model's: mit, apache-2.0)",
    )  # fmt: skip
    parser.add_argument(
        "--dry-run", action="store_true",
        help="print the card and the files that would be uploaded; no network, no token",
    )  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from voxtune.engine.publish.push import PushRequest, prepare, push

    request = PushRequest(
        folder=args.folder,
        repo_id=args.repo_id,
        private=args.private,
        token_env=args.token_env,
        licence=args.license,
    )
    if args.dry_run:
        from voxtune.engine.publish.push import published_files

        contents, card = prepare(request)
        print(card)
        files = published_files(contents)
        print(f"files ({len(files)} + README.md):")
        for name, content in files.items():
            print(f"  {name}" + (" (local paths removed)" if isinstance(content, bytes) else ""))
        return 0
    result = push(request)
    print(f"pushed {len(result.files)} files to {result.repo_url}")
    print(f"commit: {result.commit_url}")
    return 0

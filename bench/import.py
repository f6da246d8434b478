"""Import of a desktop app with a long history: 500 commits of a 2,000-file app (each commit edits three files),
zipped with its .git, into a project against moto.

    python bench/import.py [--commits 500] [--files 2000]

Prints the time to open the archive and walk its history, to import it (versions, blobs, the working copy),
and checks that the blobs stored equal the distinct contents of the history. Target: under 60 s in all.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import in_process_stack, seed_owner

TARGET_S = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=500)
    parser.add_argument("--files", type=int, default=2000)
    args = parser.parse_args()
    from tests.importing.desktop_fixtures import DesktopDbBuilder
    from tests.importing.git_fixtures import make_generated_repo, zip_folder

    work = Path(tempfile.mkdtemp(prefix="mm-bench-import-"))
    started = time.perf_counter()
    repo = make_generated_repo(work / "big-app", args.commits, args.files)
    upload = zip_folder(repo.path, work / "big-app.zip", nested=True)
    made_s = time.perf_counter() - started
    print(f"made the repository and its zip ({upload.stat().st_size / 1e6:.1f} MB) in {made_s:.1f} s")
    with DesktopDbBuilder(work / "sqlite.db") as build:
        build.add_app("Big app", "big-app")

    with in_process_stack():
        from mm_common import db, imports
        from mm_common.importing.desktop_db import DesktopDatabase
        from mm_common.importing.git_history import ArchiveLimits, open_repository
        from mm_common.importing.importer import ImportOptions, import_app

        user_id, _, org_id = seed_owner("Import")
        with db.transaction() as conn:
            the_import = imports.create_import(conn, organization_id=org_id, created_by=user_id, uploads=[])
            app = imports.add_app(
                conn, the_import["id"], source_app_id=1, project_name="Big app", archive_name="big-app.zip"
            )

        begun = time.perf_counter()
        with (
            DesktopDatabase.open(work / "sqlite.db") as database,
            open_repository(upload, work / "unpacked", ArchiveLimits()) as repository,
        ):
            history = repository.history()
            walked = time.perf_counter()
            counts = import_app(
                app["id"], database=database, repository=repository, options=ImportOptions(), user_id=user_id
            )
            imported = time.perf_counter()
            distinct = _distinct_contents(repository, history)
        with db.transaction() as conn:
            stored = conn.execute(
                "SELECT count(*) AS n FROM snapshot_blobs WHERE organization_id = %s", (org_id,)
            ).fetchone()
        assert stored is not None

    total = imported - begun
    print()
    print(f"commits                         {len(history):>8}")
    print(f"files at the last commit        {counts['files']:>8}")
    print(f"versions created                {counts['versions']:>8}")
    print(f"open the zip and walk history   {walked - begun:>8.2f} s")
    print(f"import (blobs, versions, copy)  {imported - walked:>8.2f} s")
    verdict = "ok" if total < TARGET_S else "OVER TARGET"
    print(f"in all                          {total:>8.2f} s  (target < {TARGET_S:.0f} s) {verdict}")
    same = "equal" if stored["n"] == len(distinct) else "DIFFERENT"
    print(f"blobs stored / distinct contents {stored['n']:>7} / {len(distinct)}  {same}")


def _distinct_contents(repository: Any, history: list[Any]) -> set[str]:
    """sha256 of every distinct content of the history (what content addressing should store once each)."""
    blob_ids = {entry.blob_id for commit in history for entry in commit.files.values()}
    return {hashlib.sha256(repository.read_blob(blob_id)).hexdigest() for blob_id in blob_ids}


if __name__ == "__main__":
    main()

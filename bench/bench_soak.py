"""``make bench`` entry of the soak and fault bench (bench/soak.py): 500 clients with a
kill -9 mid-run, on SQLite (one process) and on PostgreSQL with two worker processes.

AEFI_SOAK_CLIENTS, AEFI_SOAK_SECONDS and AEFI_SOAK_KILL_AT change the load; AEFI_SOAK_DBS
(default "sqlite,postgres") picks the databases."""

from __future__ import annotations

import os

from bench import soak


def main() -> None:
    clients = os.environ.get("AEFI_SOAK_CLIENTS", "500")
    seconds = os.environ.get("AEFI_SOAK_SECONDS", "60")
    kill_at = os.environ.get("AEFI_SOAK_KILL_AT", "25")
    for dbname in os.environ.get("AEFI_SOAK_DBS", "sqlite,postgres").split(","):
        workers = "2" if dbname == "postgres" else "1"
        soak.main(
            [
                "--db",
                dbname,
                "--workers",
                workers,
                "--clients",
                clients,
                "--seconds",
                seconds,
                "--kill-at",
                kill_at,
            ]
        )


if __name__ == "__main__":
    main()

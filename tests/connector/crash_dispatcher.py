"""Run as a subprocess by the crash test: drain the outbox, then stall right after the store
answered and before the dispatcher commits, so the test can SIGKILL it inside that window."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from connector.config import load_config
from connector.runtime import open_runtime


def main() -> None:
    config_path, marker = Path(sys.argv[1]), Path(sys.argv[2])
    rt = open_runtime(load_config(config_path))

    def stall(row: object, result: object) -> None:
        marker.write_text("called the store", encoding="utf-8")
        time.sleep(60)  # the test kills us here

    rt.dispatcher.after_call = stall
    rt.dispatcher.drain()


if __name__ == "__main__":
    main()

"""Building a real Vínculo runtime (config, state, adapters, loyalty) around a store simulator."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from adapters.woocommerce.simulator import WooSimulator
from connector.config import load_config
from connector.demo import DEFAULT_PROGRAM
from connector.runtime import Runtime, open_runtime

CODE_SECRET = "test-code-secret-0123456789"


def write_config(tmp_path: Path, sim: WooSimulator, *, program: dict[str, Any] | None = None) -> Path:
    (tmp_path / "erp").mkdir(exist_ok=True)
    document = {
        "state": {"url": "sqlite:///state.db"},
        "stores": [
            {
                "platform": "woocommerce",
                "key": "main",
                "url": sim.url,
                "consumer_key": "${T_WOO_KEY}",
                "consumer_secret": "${T_WOO_SECRET}",
            }
        ],
        "erp": {"platform": "files", "key": "erp", "root": "erp"},
        "loyalty": {
            "code_secret": "${T_CODE_SECRET}",
            "program": program or DEFAULT_PROGRAM,
            "dispatcher_max_attempts": 3,
        },
    }
    path = tmp_path / "vinculo.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def environment(sim: WooSimulator) -> dict[str, str]:
    return {"T_WOO_KEY": sim.consumer_key, "T_WOO_SECRET": sim.consumer_secret, "T_CODE_SECRET": CODE_SECRET}


def runtime(config_path: Path, sim: WooSimulator) -> Runtime:
    os.environ.update(environment(sim))
    return open_runtime(load_config(config_path))

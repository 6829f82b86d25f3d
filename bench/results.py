"""Where every benchmark writes what it measured: bench/results/<name>.json, with the machine, the date, the
commit and the settings beside the figures, and each target with whether it was met. The docs' figures are
read from these files."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def _commit() -> str:
    done = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
        cwd=RESULTS.parent,
    )
    return done.stdout.strip() or "unknown"


def deployed_default(variable: str) -> float:
    """A number's default in terraform/variables.tf: what a deployment gets unless told otherwise."""
    text = (RESULTS.parent.parent / "terraform" / "variables.tf").read_text()
    block = text[text.index(f'variable "{variable}"') :]
    return float(re.search(r"^\s*default\s*=\s*([\d.]+)", block, re.M).group(1))


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpus": os.cpu_count(),
        "processor": platform.machine(),
        "python": platform.python_version(),
        "system": platform.system(),
    }


class Report:
    """One bench run: figures and targets, printed as they come, written to JSON at the end."""

    def __init__(self, name: str, settings: dict[str, Any]) -> None:
        self.name, self.settings = name, settings
        self.figures: dict[str, Any] = {}
        self.targets: list[dict[str, Any]] = []

    def figure(self, key: str, value: Any, what: str) -> Any:
        """A measured value, with what it includes and what it does not."""
        self.figures[key] = {"value": value, "what": what}
        return value

    def target(self, name: str, value: float | None, op: str, bound: float) -> bool:
        """A target the bench prints: met or missed (None: it could not be measured, which misses it)."""
        met = value is not None and {">=": value >= bound, "<=": value <= bound, "==": value == bound}[op]
        self.targets.append({"name": name, "value": value, "op": op, "bound": bound, "met": met})
        print(f"  target {name}: {value} {op} {bound}: {'met' if met else 'MISSED'}")
        return met

    @property
    def missed(self) -> list[str]:
        return [t["name"] for t in self.targets if not t["met"]]

    def write(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.name}.json"
        doc = {
            "bench": self.name,
            "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "commit": _commit(),
            "machine": machine(),
            "settings": self.settings,
            "figures": self.figures,
            "targets": self.targets,
        }
        path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
        return path

    def finish(self) -> int:
        """Write the JSON; exit status 1, naming them, when a target was missed."""
        path = self.write()
        print(f"results: {path.relative_to(RESULTS.parent.parent)}")
        if self.missed:
            print(f"FAILED: missed {', '.join(self.missed)}")
            return 1
        return 0

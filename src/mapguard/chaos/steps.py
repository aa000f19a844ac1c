"""The steps of a CPU chaos run: quotas (`50%,25%,10%`, `none`) and stress-ng workers.

Pure: command-line text in, `ChaosStep`s out, or `UsageError`. A quota is a share of one CPU,
as `top` and Kubernetes count it: 50% is half a CPU per period, 200% two CPUs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mapguard.errors import UsageError

MAX_STEPS = 100
MAX_STEP_S = 3600.0
MAX_STRESS_WORKERS = 256
MIN_QUOTA_PERCENT = 1.0  # the kernel's floor is 1 ms per 100 ms period
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")


@dataclass(frozen=True, slots=True)
class ChaosStep:
    number: int
    seconds: float
    quota_cpus: float | None  # None: no quota in this step
    stress_workers: int  # stress-ng CPU workers beside the target (0: none)

    def describe(self) -> str:
        parts = []
        if self.quota_cpus is not None:
            parts.append(f"quota {quota_text(self.quota_cpus)}")
        elif self.stress_workers == 0:
            parts.append("no quota")
        if self.stress_workers:
            parts.append(f"stress-ng {self.stress_workers} CPU worker"
                         f"{'s' if self.stress_workers != 1 else ''}")
        return ", ".join(parts)


def quota_text(cpus: float) -> str:
    return f"{100 * cpus:g}%"


def parse_quotas(text: str) -> tuple[float | None, ...]:
    found: list[float | None] = []
    for item in text.split(","):
        cleaned = item.strip().lower()
        if cleaned in ("none", "max"):
            found.append(None)
            continue
        match = _PERCENT.fullmatch(cleaned)
        if match is None or float(match.group(1)) < MIN_QUOTA_PERCENT:
            raise UsageError(f"--quota {text!r}: expected percentages of one CPU of at least "
                             f"{MIN_QUOTA_PERCENT:g}% (e.g. 50%,25%,10%) or none")
        found.append(float(match.group(1)) / 100)
    return tuple(found)


def parse_stress(text: str) -> tuple[int, ...]:
    try:
        found = tuple(int(item) for item in text.split(","))
    except ValueError:
        found = ()
    if not found or any(not 0 <= n <= MAX_STRESS_WORKERS for n in found):
        raise UsageError(f"--stress {text!r}: expected CPU worker counts from 0 to "
                         f"{MAX_STRESS_WORKERS}, e.g. 2 or 0,1,2")
    return found


def build_steps(quotas: tuple[float | None, ...], stress: tuple[int, ...],
                step_s: float) -> tuple[ChaosStep, ...]:
    """One step per item; a single item of one list is repeated for every step of the other."""
    if not quotas and not stress:
        raise UsageError("give --quota or --stress (or both)")
    count = max(len(quotas), len(stress))
    for name, items in (("--quota", quotas), ("--stress", stress)):
        if len(items) not in (0, 1, count):
            raise UsageError(f"{name} has {len(items)} steps, the other list {count}: give "
                             "as many, or one for all")
    if count > MAX_STEPS:
        raise UsageError(f"at most {MAX_STEPS} steps")
    if not 1 <= step_s <= MAX_STEP_S:
        raise UsageError(f"--step must be from 1s to {MAX_STEP_S:,.0f}s")

    def quota(index: int) -> float | None:
        return None if not quotas else quotas[0] if len(quotas) == 1 else quotas[index]

    def workers(index: int) -> int:
        return 0 if not stress else stress[0] if len(stress) == 1 else stress[index]

    return tuple(ChaosStep(index + 1, step_s, quota(index), workers(index))
                 for index in range(count))

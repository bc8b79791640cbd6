"""A verdict: which rule, where, and the explanation the student reads."""

from __future__ import annotations

from dataclasses import dataclass

RULE_TITLES: dict[str, str] = {
    "L1": "multi-test",
    "L2": "training on test",
    "L3": "selection on test",
    "L4": "overlap",
    "L5": "preprocessing",
    "R": "reflection",
}


@dataclass(frozen=True)
class Leak:
    rule: str          # "L1" ... "L5"; "R": code the analysis cannot follow, for a person to read
    cell: int          # 0-based index in the notebook's full cell list (markdown cells count)
    line: int          # 1-based line inside that cell
    code: str          # the offending source line, stripped
    explanation: str   # for the student: what happened and what to do instead

    def describe(self) -> str:
        """The verdict as one line of student feedback.

        The cell is shown 1-based ("cell 1" is the notebook's first cell, markdown included),
        as a person counts cells; ``self.cell`` itself stays 0-based like a list index.
        """
        title = RULE_TITLES.get(self.rule, self.rule)
        return (f"{self.rule} {title}, cell {self.cell + 1} line {self.line}: "
                f"`{self.code}` — {self.explanation}")

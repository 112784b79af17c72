"""What checkov reads of a synthesized stack: the stack itself, or a copy without the blocks it cannot parse.

checkov 3.3's terraform_json parser takes every top-level block type as labeled, so Terraform's unlabeled
`removed` block (what a workspace stack writes to forget data it must not destroy, infra/stacks/
workspace_workloads.py) fails the whole file (terraform_json/parser.py `hclify`: "this method receives only
dicts") and the stack would pass with no check run. The copy blanks those lines, so every finding keeps its
line numbers, and findings name the stack's own file again (``original``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

UNPARSABLE_BLOCKS = ("removed",)


def parsable_copy(path: Path, into: Path) -> Path:
    """``path`` itself, or a copy under ``into/<stack>/`` with each unparsable top-level block blanked out."""
    text = path.read_text()
    try:
        document = json.loads(text)
    except ValueError:  # not JSON at all: checkov reports it as a parse error, and so does the scan
        return path
    if not isinstance(document, dict) or not any(block in document for block in UNPARSABLE_BLOCKS):
        return path
    lines = text.split("\n")
    for block in UNPARSABLE_BLOCKS:
        start = next((i for i, line in enumerate(lines) if line == f'  "{block}": ['), None)
        if start is None:
            continue
        end = next(i for i in range(start + 1, len(lines)) if re.fullmatch(r"  \],?", lines[i]))
        comma = "," if lines[end].endswith(",") else ""
        lines[start : end + 1] = [f'  "//{block}": {{', *[""] * (end - start - 1), f"  }}{comma}"]
    copy = into / path.parent.name / path.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text("\n".join(lines))
    json.loads(copy.read_text())  # still one JSON document, line for line the stack's
    return copy


def original(file: str, copies: dict[str, str]) -> str:
    """The stack file a finding in a copy is about."""
    return copies.get(file, file)

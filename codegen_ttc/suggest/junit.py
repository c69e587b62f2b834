"""Per-test outcomes from pytest's JUnit XML (``junit_family=xunit1``, which names the file). Pure.

The XML is written inside the sandbox, so it is untrusted: size-capped, no DTD or
entities (no entity expansion tricks), and anything malformed means "no outcomes".
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

MAX_XML_BYTES = 32 << 20
MAX_DETAIL_CHARS = 4000
PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"


@dataclass(frozen=True)
class TestOutcome:
    test_id: str  # "tests/test_x.py::test_y" or "tests/test_x.py::TestC::test_y"
    status: str  # passed / failed / error / skipped
    message: str = ""  # the failure's one-line message
    detail: str = ""  # the failure's traceback text (capped)
    file: str = ""
    collection: bool = False  # a module that failed to import, not a test

    __test__ = False


def _test_id(case: ET.Element) -> tuple[str, str]:
    name = case.get("name", "?")
    classname = case.get("classname", "")
    file = case.get("file", "") or ""
    if not classname:
        # a collection error: pytest names the module, not a test
        return (file or name), file
    if not file:
        return f"{classname}::{name}", ""
    module = file[:-3].replace("/", ".") if file.endswith(".py") else file.replace("/", ".")
    rest = classname[len(module) + 1 :] if classname.startswith(module + ".") else ""
    parts = [file, *([p for p in rest.split(".") if p]), name]
    return "::".join(parts), file


def parse_junit(data: bytes) -> dict[str, TestOutcome] | None:
    """Outcomes by test id, or None if the report is missing, too big or malformed."""
    if not data or len(data) > MAX_XML_BYTES or b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return None
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    out: dict[str, TestOutcome] = {}
    for case in root.iter("testcase"):
        test_id, file = _test_id(case)
        status, message, detail = PASSED, "", ""
        for child in case:
            tag = child.tag
            if tag in ("failure", "error"):
                # an error in teardown after a failure: the test still did not pass
                status = FAILED if tag == "failure" else ERROR
                first_line = (child.get("message") or "").strip().splitlines()[0:1]
                message = first_line[0][:300] if first_line else ""
                detail = (child.text or "")[-MAX_DETAIL_CHARS:]
                break
            if tag == "skipped":
                status = SKIPPED
                message = (child.get("message") or "")[:300]
        prev = out.get(test_id)
        if prev is None or prev.status == PASSED:  # a setup/teardown error record wins over a pass
            out[test_id] = TestOutcome(test_id, status, message, detail, file, not case.get("classname"))
    return out

"""`sip-policy test --junit FILE`: the results as JUnit XML, which CI systems show per case."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..testing import Report


def write_junit(report: Report, path: Path) -> None:
    """One <testsuite> per case file, one <testcase> per case, a <failure> per failed case."""
    root = ET.Element("testsuites", name="sip-policy", tests=str(len(report.results)))
    root.set("failures", str(report.failed))
    suites: dict[str, ET.Element] = {}
    for result in report.results:
        file = result.location.file
        suite = suites.get(file)
        if suite is None:
            suite = suites[file] = ET.SubElement(root, "testsuite", name=file)
        case = ET.SubElement(
            suite,
            "testcase",
            name=result.name,
            classname=file,
            file=file,
            line=str(result.location.line),
        )
        if not result.passed:
            failure = ET.SubElement(case, "failure", message=result.failures[0])
            failure.text = "\n".join(result.failures)
    for file, suite in suites.items():
        cases = [r for r in report.results if r.location.file == file]
        suite.set("tests", str(len(cases)))
        suite.set("failures", str(sum(not r.passed for r in cases)))
    ET.indent(root)
    path.write_text(ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n")

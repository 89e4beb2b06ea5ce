#!/usr/bin/python3
"""Fails a test run that skipped a test tests/allowed-skips.txt does not allow.

  check-skips.py JUNIT_FILE [ALLOWED_SKIPS]

JUNIT_FILE is what `ctest --output-junit JUNIT_FILE` wrote; ALLOWED_SKIPS is
tests/allowed-skips.txt unless named. `make test`, `make test-fast` and
`make test-sanitize` run this after ctest.

A test skips by printing `IRSTEPS-SKIPPED: REASON` (tests/support/skip.hpp
for the Catch tests; every test's SKIP_REGULAR_EXPRESSION makes ctest report
it Skipped) or by exit 77 where SKIP_RETURN_CODE is 77. Every skipped test is
printed with its reason. A skip is allowed when a line of ALLOWED_SKIPS,

  NAME-REGEX ; REASON

has a NAME-REGEX (Python re) that matches the whole ctest name and a REASON
the skip's printed reason begins with: a test listed for one reason still
fails when it skips for another. ctest reports a test that printed the line
as skipped even if it failed afterwards; such a test (its output has a
Catch2 `FAILED:` or failed-test summary, or a sanitizer's report) is a
failure here, listed or not.

Exit 0 no skip or only allowed ones; 1 an unlisted skip or a failed one;
2 bad usage or an unreadable file.
"""
import os
import re
import sys
import xml.etree.ElementTree as ElementTree

MARKER = "IRSTEPS-SKIPPED: "
FAILURE_SIGNS = re.compile(
    r"FAILED:|^test cases:.*\bfailed\b|ERROR: (?:Address|Leak|Thread|Memory)Sanitizer|runtime error:", re.M)
DEFAULT_ALLOWED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "allowed-skips.txt")


def fail_usage(message):
    print(f"check-skips: {message}", file=sys.stderr)
    sys.exit(2)


def read_allowed(path):
    """[(name regex, reason, line number)] from ALLOWED_SKIPS."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as error:
        fail_usage(f"cannot read {path}: {error.strerror}")
    allowed = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, separator, reason = line.partition(";")
        name, reason = name.strip(), reason.strip()
        if not separator or not name or not reason:
            fail_usage(f"{path}:{number}: expected 'NAME-REGEX ; REASON', got: {line}")
        try:
            allowed.append((re.compile(name), reason, number))
        except re.error as error:
            fail_usage(f"{path}:{number}: NAME-REGEX {name!r} is not a regular expression: {error}")
    return allowed


def read_skips(path):
    """[(name, reason, failed)] of every test ctest did not report as run or failed."""
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as error:
        fail_usage(f"cannot read ctest's JUnit file {path}: {error}")
    cases = root.iter("testcase")
    skips, count = [], 0
    for case in cases:
        count += 1
        status = case.get("status", "")
        if status in ("run", "fail"):
            continue
        output = case.findtext("system-out") or ""
        reason = None
        for line in output.splitlines():
            if line.startswith(MARKER):
                reason = line[len(MARKER):].strip()
                break
        if reason is None:
            skipped = case.find("skipped")
            how = skipped.get("message", "") if skipped is not None else status
            reason = f"(no IRSTEPS-SKIPPED line; ctest says: {how or status})"
        skips.append((case.get("name", "?"), reason, bool(FAILURE_SIGNS.search(output))))
    if count == 0:
        fail_usage(f"{path} has no test results")
    return skips, count


def main():
    if len(sys.argv) not in (2, 3):
        fail_usage(__doc__.strip().splitlines()[2].strip())
    allowed_path = sys.argv[2] if len(sys.argv) == 3 else DEFAULT_ALLOWED
    shown = sys.argv[2] if len(sys.argv) == 3 else "tests/allowed-skips.txt"
    allowed = read_allowed(allowed_path)
    skips, count = read_skips(sys.argv[1])
    bad = 0
    for name, reason, failed in skips:
        rule = next((a for a in allowed if a[0].fullmatch(name) and reason.startswith(a[1])), None)
        if failed:
            verdict = "FAILED after its skip line (a skip does not hide a failure)"
            bad += 1
        elif rule is None:
            verdict = f"NOT ALLOWED (list it in {shown} with its reason, or make it run)"
            bad += 1
        else:
            verdict = f"allowed ({os.path.basename(allowed_path)} line {rule[2]})"
        print(f"skipped: {name}\n  reason: {reason}\n  {verdict}")
    print(f"check-skips: {count} tests, {len(skips)} skipped, {bad} not allowed")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()

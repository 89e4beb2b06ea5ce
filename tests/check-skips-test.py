#!/usr/bin/python3
"""Tests tests/check-skips.py on JUnit files written here the way ctest 3.25
writes them (`ctest --output-junit`): a run without skips passes; an unlisted
skip fails; a listed one passes, but not for another reason; a skip by exit
77 is read too; a test that printed the skip line and then failed fails even
when listed; a malformed list or file is exit 2. Also checks that the real
tests/allowed-skips.txt parses and names real tests and reasons. Prints one line per check, never the skip
marker itself (ctest would take this test for skipped)."""
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "check-skips.py")
MARKER = "IRSTEPS-" + "SKIPPED: "  # split so this file's own output never holds it

PASSED = ('<testcase name="unit:a passing test" classname="unit:a passing test" time="0.1" status="run">'
          '<system-out>All tests passed (3 assertions in 1 test case)\n</system-out></testcase>')


def skipped(name, reason, extra="", how="SKIP_REGULAR_EXPRESSION_MATCHED"):
    return (f'<testcase name="{name}" classname="{name}" time="0.1" status="notrun">'
            f'<skipped message="{how}"/><system-out>{MARKER}{reason}\n{extra}</system-out></testcase>')


def junit(*cases):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<testsuite name="(empty)" tests="%d">\n%s\n</testsuite>\n'
            % (len(cases), "\n".join(cases)))


failures = []


def expect(title, cases, allowed, status, says=()):
    with tempfile.TemporaryDirectory(prefix="check-skips-test-") as work:
        junit_path = os.path.join(work, "junit.xml")
        allowed_path = os.path.join(work, "allowed-skips.txt")
        with open(junit_path, "w") as f:
            f.write(cases if isinstance(cases, str) else junit(*cases))
        with open(allowed_path, "w") as f:
            f.write(allowed)
        run = subprocess.run([sys.executable, CHECK, junit_path, allowed_path], capture_output=True, text=True)
    output = (run.stdout + run.stderr).replace(MARKER, "<marker>")
    problems = []
    if run.returncode != status:
        problems.append(f"exit {run.returncode}, expected {status}")
    problems += [f"output lacks {text!r}" for text in says if text not in output]
    print(("ok   " if not problems else "FAIL ") + title, flush=True)
    if problems:
        failures.append(title)
        print("  " + "; ".join(problems) + "\n  output: " + output.replace("\n", "\n  "), flush=True)


LISTED = "# comment\n\nintegration:containers: .* ; the images are built from the release build\n"
CONTAINERS = "integration:containers: every image builds"

expect("no skip: passes", [PASSED], LISTED, 0, ["1 tests, 0 skipped, 0 not allowed"])
expect("an unlisted skip fails, naming the test and its reason",
       [PASSED, skipped("service:needs a registry", "docker-registry is not installed")], LISTED, 1,
       ["skipped: service:needs a registry", "reason: docker-registry is not installed", "NOT ALLOWED",
        "2 tests, 1 skipped, 1 not allowed"])
expect("a listed skip passes and is still printed",
       [PASSED, skipped(CONTAINERS, "the images are built from the release build")], LISTED, 0,
       ["skipped: " + CONTAINERS, "allowed (allowed-skips.txt line 3)", "2 tests, 1 skipped, 0 not allowed"])
expect("a listed test skipped for another reason fails",
       [skipped(CONTAINERS, "buildah is not installed")], LISTED, 1, ["NOT ALLOWED"])
expect("the name regex must match the whole name",
       [skipped("integration:containers", "the images are built from the release build")],
       "containers ; the images are built from the release build\n", 1, ["NOT ALLOWED"])
expect("a skip by exit 77 with its line is read",
       [skipped("sigstore-js.differential", "node is not installed", how="SKIP_RETURN_CODE=77")], LISTED, 1,
       ["reason: node is not installed", "NOT ALLOWED"])
expect("a skip without the line is reported with ctest's word for it",
       ['<testcase name="x" classname="x" time="0" status="notrun"><skipped message="SKIP_RETURN_CODE=77"/>'
        '<system-out>WARN: no node\n</system-out></testcase>'], LISTED, 1,
       ["(no IRSTEPS-SKIPPED line; ctest says: SKIP_RETURN_CODE=77)"])
expect("a listed skip whose Catch test then failed fails",
       [skipped(CONTAINERS, "the images are built from the release build",
                "x.cpp:10: FAILED:\n  REQUIRE( false )\ntest cases: 1 | 1 failed\n")], LISTED, 1,
       ["FAILED after its skip line"])
expect("a listed skip with a sanitizer report fails",
       [skipped(CONTAINERS, "the images are built from the release build",
                "==1==ERROR: AddressSanitizer: heap-use-after-free\n")], LISTED, 1, ["FAILED after its skip line"])
expect("a list line without a reason is exit 2", [PASSED], "integration:.*\n", 2, ["expected 'NAME-REGEX ; REASON'"])
expect("a bad regex is exit 2", [PASSED], "integration:( ; why\n", 2, ["is not a regular expression"])
expect("a JUnit file that is not XML is exit 2", "not xml", LISTED, 2, ["cannot read ctest's JUnit file"])
expect("a JUnit file without tests is exit 2", junit(), LISTED, 2, ["has no test results"])

# The real list parses: every line is a regex and a reason.
with open(os.path.join(HERE, "allowed-skips.txt"), encoding="utf-8") as f:
    expect("tests/allowed-skips.txt parses", [PASSED], f.read(), 0, ["0 not allowed"])

# And it names real tests and real reasons: each NAME-REGEX matches a test
# (a TEST_CASE with its binary's prefix, or an add_test NAME), and each REASON
# begins a reason some test passes to skip_test() (or skip() in Python).
names, reasons = [], []
for folder, _, files in os.walk(HERE):
    for file in files:
        path = os.path.join(folder, file)
        if file.endswith(".cpp") or file.endswith(".hpp"):
            text = open(path, encoding="utf-8").read()
            prefix = ("integration:" if "/integration" in folder else
                      "service:" if "/service" in folder or "/plugin" in folder else "unit:")
            names += [prefix + n for n in re.findall(r'TEST_CASE\(\s*"((?:[^"\\]|\\.)*)"', text)]
            reasons += re.findall(r'skip_test\(\s*"((?:[^"\\]|\\.)*)"', text)
        elif file.endswith(".py") and path != os.path.abspath(__file__):
            reasons += re.findall(r'\bskip\(f?"([^"{]*)', open(path, encoding="utf-8").read())
        elif file == "CMakeLists.txt":
            names += re.findall(r"add_test\(NAME (\S+)", open(path, encoding="utf-8").read())
reasons = [r for r in reasons if len(r) >= 10]  # not an f-string's empty head
with open(os.path.join(HERE, "allowed-skips.txt"), encoding="utf-8") as f:
    for number, line in enumerate(f.read().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, reason = (part.strip() for part in line.partition(";"))
        title = f"tests/allowed-skips.txt line {number} names a test and a reason a test gives"
        problems = []
        if not any(re.fullmatch(name, n) for n in names):
            problems.append(f"no test is named like {name!r}")
        if not any(r.startswith(reason) or reason.startswith(r) for r in reasons):
            problems.append(f"no skip_test() gives a reason beginning {reason!r}")
        print(("ok   " if not problems else "FAIL ") + title, flush=True)
        if problems:
            failures.append(title)
            print("  " + "; ".join(problems), flush=True)

print(f"{len(failures)} of the checks failed" if failures else "all checks passed")
sys.exit(1 if failures else 0)

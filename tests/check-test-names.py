#!/usr/bin/python3
"""Every Catch2 test case must reach ctest as itself: catch_discover_tests
turns the names into a CMake list, so a ';' splits a test into pieces that
match nothing (and pass without running), and Catch takes a name that starts
with '-' for an option. Fails naming each such TEST_CASE, and duplicates."""
import glob
import re
import sys

root = sys.argv[1]
pattern = re.compile(r'TEST_CASE\(\s*"((?:[^"\\]|\\.)*)"', re.S)
problems, seen = [], {}
for path in sorted(glob.glob(root + "/tests/**/*.cpp", recursive=True)):
    for match in pattern.finditer(open(path, encoding="utf-8").read()):
        name = match.group(1)
        where = path[len(root) + 1:]
        if ";" in name:
            problems.append(f"{where}: '{name}' contains ';'")
        if name.startswith("-"):
            problems.append(f"{where}: '{name}' starts with '-'")
        if name in seen:
            problems.append(f"{where}: '{name}' is also in {seen[name]}")
        seen[name] = where
for problem in problems:
    print(problem)
print(f"{len(seen)} test case names checked, {len(problems)} problems")
sys.exit(1 if problems else 0)

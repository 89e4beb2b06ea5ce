#!/usr/bin/python3
"""Holds what notify sent against each service's published rules.

Usage: check_notifications.py DIR SCHEMAS [HEADING ...]

DIR holds what the test's receivers captured: slack-*.json, pagerduty-*.json,
teams-*.json (request bodies) and mail-*.eml (messages as the SMTP server got
them). SCHEMAS is tests/data/adaptive-cards. Each HEADING (e.g. "Impact:")
must be in every Teams card, whole or cut: a long part may be shortened,
never dropped. Prints one line per problem and exits 1 if there is any.

The rules:
- Slack Block Kit: at most 50 blocks, section text 3000 characters, header
  150, fields 10 of 2000; all block text together under 13,200 characters
  (msg_blocks_too_long, slackapi/bolt-js#2509); lengths in UTF-16 units.
  Every mrkdwn text and the fallback `text` escaped: no raw < or >, and every
  & starts &amp;, &lt; or &gt; (a cut inside an entity breaks it).
- PagerDuty Events API v2: an event of at most 512 KB; summary at most 1024
  characters; severity one of critical, error, warning, info; dedup_key at
  most 255 characters.
- Teams (Workflows webhook): at most 28 KB; an Adaptive Card valid against
  Microsoft's schema of the version it declares.
- E-mail: RFC 5322 (lines of at most 998 octets, CRLF only; header lines of
  at most 78 characters), RFC 2047 (encoded words of at most 75 characters,
  header lines holding them at most 76), RFC 2046 (a base64 text body decodes
  to CRLF line ends); and Python's email parser, strict policy, finds no defect.
"""
import base64
import email
import email.policy
import glob
import json
import os
import re
import sys

import jsonschema

problems = []


def problem(where, text):
    problems.append(f"{where}: {text}")


def units(text):
    return len(text.encode("utf-16-le")) // 2


ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


def check_escaped(where, text):
    if "<" in text or ">" in text:
        problem(where, "raw < or > in mrkdwn text")
    if ENTITY.search(text):
        problem(where, "an & that starts no entity (unescaped, or cut inside one)")


def check_slack(path):
    body = json.load(open(path, encoding="utf-8"))
    check_escaped(path + " text", body.get("text", ""))
    blocks = body.get("blocks", [])
    if len(blocks) > 50:
        problem(path, f"{len(blocks)} blocks (at most 50)")
    total = 0
    for i, block in enumerate(blocks):
        where = f"{path} blocks[{i}]"
        if block["type"] == "header":
            text = block["text"]["text"]
            total += units(text)
            if units(text) > 150:
                problem(where, f"header of {units(text)} characters (at most 150)")
        elif block["type"] == "section":
            if "text" in block:
                text = block["text"]["text"]
                total += units(text)
                if units(text) > 3000:
                    problem(where, f"section text of {units(text)} characters (at most 3000)")
                check_escaped(where, text)
            fields = block.get("fields", [])
            if len(fields) > 10:
                problem(where, f"{len(fields)} fields (at most 10)")
            for field in fields:
                total += units(field["text"])
                if units(field["text"]) > 2000:
                    problem(where, "a field over 2000 characters")
                check_escaped(where, field["text"])
        elif block["type"] == "context":
            for element in block["elements"]:
                total += units(element["text"])
                check_escaped(where, element["text"])
    if total >= 13200:
        problem(path, f"{total} characters of block text (msg_blocks_too_long at about 13,200)")


def check_pagerduty(path):
    raw = open(path, "rb").read()
    if len(raw) > 512 * 1024:
        problem(path, f"an event of {len(raw)} bytes (at most 512 KB)")
    event = json.loads(raw)
    if len(event.get("dedup_key", "")) > 255:
        problem(path, "dedup_key over 255 characters")
    payload = event.get("payload")
    if event.get("event_action") == "trigger":
        if not payload:
            problem(path, "a trigger without payload")
            return
        if not payload.get("summary") or len(payload["summary"]) > 1024:
            problem(path, "summary missing or over 1024 characters")
        if payload.get("severity") not in ("critical", "error", "warning", "info"):
            problem(path, f"severity {payload.get('severity')!r}")
        if not payload.get("source"):
            problem(path, "no source")


def card_texts(node):
    if isinstance(node, dict):
        if node.get("type") == "TextBlock":
            yield node.get("text", "")
        for value in node.values():
            yield from card_texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from card_texts(value)


def check_teams(path, schemas, headings):
    raw = open(path, "rb").read()
    if len(raw) > 28 * 1024:
        problem(path, f"{len(raw)} bytes (at most 28 KB)")
    message = json.loads(raw)
    card = message["attachments"][0]["content"]
    version = card.get("version", "")
    schema_path = os.path.join(schemas, version + ".0", "adaptive-card.json")
    if not os.path.exists(schema_path):
        problem(path, f"declares version {version!r}, which has no schema here")
        return
    schema = json.load(open(schema_path, encoding="utf-8"))
    validator = jsonschema.Draft6Validator(schema)
    for error in sorted(validator.iter_errors(card), key=lambda e: list(e.path)):
        problem(path, f"not a valid Adaptive Card {version}: {error.message} at {list(error.path)}")
    text = "\n".join(card_texts(card))
    for heading in headings:
        if heading not in text:
            problem(path, f"the part {heading!r} is missing")


def check_mail(path):
    raw = open(path, "rb").read()
    head, _, body = raw.partition(b"\r\n\r\n")
    if re.search(rb"(?<!\r)\n", raw):
        problem(path, "a bare LF (RFC 5322: CRLF only)")
    for line in raw.split(b"\r\n"):
        if len(line) > 998:
            problem(path, f"a line of {len(line)} octets (RFC 5322: at most 998)")
    for line in head.split(b"\r\n"):
        if b"=?" in line and len(line) > 76:
            problem(path, f"a header line with encoded words of {len(line)} characters (RFC 2047: 76)")
        elif len(line) > 78:
            problem(path, f"a header line of {len(line)} characters (RFC 5322: fold at 78)")
    for word in re.findall(rb"=\?[^?]+\?[BbQq]\?[^?]*\?=", head):
        if len(word) > 75:
            problem(path, f"an encoded word of {len(word)} characters (RFC 2047: 75)")
    message = email.message_from_bytes(raw, policy=email.policy.strict)
    if message.defects:
        problem(path, f"defects: {message.defects}")
    str(message["Subject"])  # decodes every encoded word, strictly
    if message.get("Content-Transfer-Encoding", "").lower() == "base64":
        decoded = base64.b64decode(b"".join(body.split(b"\r\n")), validate=True)
        if re.search(rb"(?<!\r)\n", decoded):
            problem(path, "the base64 body has bare LF line ends (RFC 2046: CRLF)")
        decoded.decode("utf-8")


def main():
    folder, schemas, headings = sys.argv[1], sys.argv[2], sys.argv[3:]
    checked = 0
    for path in sorted(glob.glob(os.path.join(folder, "*"))):
        name = os.path.basename(path)
        try:
            if name.startswith("slack-"):
                check_slack(path)
            elif name.startswith("pagerduty-"):
                check_pagerduty(path)
            elif name.startswith("teams-"):
                check_teams(path, schemas, headings)
            elif name.startswith("mail-"):
                check_mail(path)
            else:
                continue
        except Exception as error:  # a payload the rules cannot even read
            problem(path, f"{type(error).__name__}: {error}")
        checked += 1
    for line in problems:
        print(line)
    print(f"{checked} payloads checked, {len(problems)} problems")
    sys.exit(1 if problems or checked == 0 else 0)


main()

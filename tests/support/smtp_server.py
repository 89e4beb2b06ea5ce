#!/usr/bin/python3
"""A real SMTP server for the notify tests: aiosmtpd (Debian's python3-aiosmtpd)
on 127.0.0.1. With --cert/--key it offers STARTTLS and requires it; with
--user/--password it requires AUTH (PLAIN or LOGIN, only after TLS). Each
message received is written to --record DIR as NNN.eml, preceded by
X-Test-Envelope-From, X-Test-Envelope-To and X-Test-Auth lines; --delay-ms
holds each answer to DATA that long (benchmarks). Prints
"listening PORT" on stderr once it accepts connections; runs until killed."""
import argparse
import asyncio
import os
import signal
import socket
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    def __init__(self, folder, delay):
        self.folder = folder
        self.delay = delay
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            self.count += 1
            name = os.path.join(self.folder, "%03d.eml" % self.count)
        auth = getattr(session, "irsteps_mechanism", "") or ""
        head = "X-Test-Envelope-From: %s\r\nX-Test-Envelope-To: %s\r\nX-Test-Auth: %s\r\nX-Test-TLS: %s\r\n" % (
            envelope.mail_from, ",".join(envelope.rcpt_tos), auth, "yes" if session.ssl else "no")
        with open(name + ".tmp", "wb") as out:
            out.write(head.encode())
            out.write(envelope.original_content)
        os.rename(name + ".tmp", name)
        return "250 2.0.0 Ok: queued as %03d" % self.count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--record", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--delay-ms", type=int, default=0)
    args = parser.parse_args()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == args.user
              and auth_data.password.decode() == args.password)
        if ok:
            session.irsteps_mechanism = mechanism
        # handled=False: aiosmtpd then answers 535 itself.
        return AuthResult(success=ok, handled=False)

    options = {}
    if args.cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        options.update(tls_context=context, require_starttls=True)
    if args.user:
        options.update(authenticator=authenticate, auth_required=True, auth_require_tls=bool(args.cert))
    port = free_port()
    controller = Controller(Recorder(args.record, args.delay_ms / 1000.0), hostname="127.0.0.1", port=port,
                            server_hostname="irsteps-test", **options)
    controller.start()
    print("listening %d" % port, file=sys.stderr, flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A webhook receiver on 127.0.0.1 over HTTPS, for the demo and the benchmarks.

Usage: https-receiver.py CERT KEY PORT_FILE [--status N] [--delay-ms N] [--record DIR [--headers]]
Writes the port it listens on to PORT_FILE once it accepts connections. Every
POST is answered with --status (default 200) after --delay-ms; with --record,
each body is kept as DIR/NNN-<path>.json in the order received, and with
--headers its headers as DIR/NNN-<path>.headers (a JSON object).
"""
import argparse
import http.server
import itertools
import json
import os
import ssl
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("cert")
    parser.add_argument("key")
    parser.add_argument("port_file")
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--delay-ms", type=int, default=0)
    parser.add_argument("--record")
    parser.add_argument("--headers", action="store_true")
    args = parser.parse_args()
    counter = itertools.count(1)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if args.record:
                name = "%03d%s" % (next(counter), self.path.replace("/", "-"))
                if args.headers:
                    with open(os.path.join(args.record, name + ".headers"), "w") as f:
                        json.dump(dict(self.headers.items()), f)
                with open(os.path.join(args.record, name + ".json"), "wb") as f:
                    f.write(body)
            time.sleep(args.delay_ms / 1000)
            self.send_response(args.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *unused):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with open(args.port_file, "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()

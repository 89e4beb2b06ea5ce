#!/usr/bin/env python3
"""Git's smart HTTP protocol on 127.0.0.1 for the tests: every request is
handed to the real `git http-backend` as a CGI program, so fetches and pushes
meet git's own receive-pack (with its ref locking), not an imitation.

Usage: git-http-server.py ROOT [--port N] [--token-file F] [--negotiate also|only]
                          [--cert F --key F] [--log F]
Prints "listening on PORT" on stderr once it accepts connections.
With --token-file, every request needs HTTP Basic auth whose password is the
token (any user name); without it, pushes are still allowed (REMOTE_USER is
set to "anonymous" so that http-backend enables receive-pack).
--negotiate also: a refusal offers Negotiate (Kerberos) before Basic, as a
server with single sign-on does; --negotiate only: Negotiate alone. Nothing
here speaks Kerberos: a Negotiate answer is refused like a wrong token.
"""
import argparse
import base64
import hmac
import http.server
import os
import ssl
import subprocess
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--token-file")
    parser.add_argument("--negotiate", choices=["also", "only"])
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--log")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    token = None
    if args.token_file:
        with open(args.token_file) as f:
            token = f.read().strip()
    log = open(args.log, "a", buffering=1) if args.log else None

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):
            if log:
                # The request line only: never the Authorization header.
                log.write("%s %s\n" % (self.command, self.path))

        def authorized(self):
            if token is None:
                return "anonymous"
            header = self.headers.get("Authorization", "")
            if not header.startswith("Basic "):
                return None
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except Exception:
                return None
            return user if hmac.compare_digest(password, token) else None

        def read_body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return body
                    body += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))

        def handle_any(self):
            body = self.read_body() if self.command == "POST" else b""
            user = self.authorized()
            if user is None:
                self.send_response(401)
                if args.negotiate:
                    self.send_header("WWW-Authenticate", "Negotiate")
                if args.negotiate != "only":
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            path, _, query = self.path.partition("?")
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": args.root,
                "GIT_HTTP_EXPORT_ALL": "1",
                "GATEWAY_INTERFACE": "CGI/1.1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "REMOTE_USER": user,
                "REMOTE_ADDR": self.client_address[0],
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
            }
            if self.headers.get("Content-Encoding"):
                env["HTTP_CONTENT_ENCODING"] = self.headers["Content-Encoding"]
            if self.headers.get("Git-Protocol"):
                env["GIT_PROTOCOL"] = self.headers["Git-Protocol"]
            out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
            head, _, payload = out.partition(b"\r\n\r\n")
            if not _:
                head, _, payload = out.partition(b"\n\n")
            status = 200
            headers = []
            for line in head.decode("latin-1").splitlines():
                name, _, value = line.partition(":")
                if name.lower() == "status":
                    status = int(value.strip().split()[0])
                elif name:
                    headers.append((name, value.strip()))
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = handle_any
        do_POST = handle_any

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print("listening on %d" % server.server_address[1], file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

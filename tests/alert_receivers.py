"""Real alert receivers on loopback: an HTTP server that records POSTs, and a small SMTP server.

The SMTP server speaks enough of RFC 5321 for :mod:`smtplib` (EHLO/HELO, AUTH PLAIN and LOGIN,
MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT) and keeps every accepted message. It is a
stdlib ``socketserver`` (no extra dependency; ``smtpd`` is gone from Python 3.12).
"""

from __future__ import annotations

import base64
import email
import json
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpReceiver:
    """Records the JSON body of every POST; answers ``status`` (200 by default)."""

    def __init__(self, status: int = 200):
        self.status = status
        self.received: list[dict] = []
        self.paths: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.paths.append(self.path)
                receiver.received.append(json.loads(body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> HttpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Received:
    mail_from: str
    rcpt_to: list[str]
    data: bytes
    auth: tuple[str, str] | None
    tls: bool = False

    @property
    def message(self) -> Message:
        return email.message_from_bytes(self.data)


@dataclass
class _State:
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class SmtpReceiver:
    """``with SmtpReceiver() as smtp: ... smtp.messages``; ``smtp.port`` to connect to."""

    def __init__(
        self,
        require_auth: tuple[str, str] | None = None,
        tls: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ):
        """``tls``: None (plain), ``"starttls"`` (offered and required before MAIL) or
        ``"implicit"`` (SMTPS: TLS from the first byte), with the server's ``ssl_context``."""
        self.state = _State()
        self.require_auth = require_auth
        state, required = self.state, require_auth

        class Handler(socketserver.StreamRequestHandler):
            secure = False

            def start_tls(self):
                self.connection = ssl_context.wrap_socket(self.request, server_side=True)
                self.rfile = self.connection.makefile("rb")
                self.wfile = self.connection.makefile("wb")
                self.secure = True

            def send_raw(self, data: bytes):
                self.wfile.write(data)
                self.wfile.flush()

            def reply(self, line: str):
                self.send_raw(line.encode() + b"\r\n")

            def readline(self) -> str:
                raw = self.rfile.readline(65536)
                if not raw:
                    raise ConnectionError("client went away")
                return raw.decode("utf-8", "replace").rstrip("\r\n")

            def handle(self):
                if tls == "implicit":
                    try:
                        self.start_tls()
                    except (ssl.SSLError, OSError):
                        return
                self.reply("220 test-smtp ready")
                auth, mail_from, rcpts = None, None, []
                try:
                    while True:
                        line = self.readline()
                        verb, _, arg = line.partition(" ")
                        verb = verb.upper()
                        if verb == "EHLO":
                            offer = b"250-STARTTLS\r\n" if tls == "starttls" and not self.secure else b""
                            self.send_raw(
                                b"250-test-smtp\r\n" + offer + b"250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
                            )
                        elif verb == "STARTTLS" and tls == "starttls" and not self.secure:
                            self.reply("220 go ahead")
                            self.start_tls()
                            auth, mail_from, rcpts = None, None, []
                        elif verb == "HELO":
                            self.reply("250 test-smtp")
                        elif verb == "AUTH":
                            auth = self.authenticate(arg)
                            if auth is None or (required and auth != required):
                                self.reply("535 authentication failed")
                                auth = None
                            else:
                                self.reply("235 ok")
                        elif verb == "MAIL":
                            if tls and not self.secure:
                                self.reply("530 must issue STARTTLS first")
                                continue
                            if required and auth is None:
                                self.reply("530 authentication required")
                                continue
                            mail_from, rcpts = arg.split(":", 1)[1].strip().strip("<>"), []
                            self.reply("250 ok")
                        elif verb == "RCPT":
                            rcpts.append(arg.split(":", 1)[1].strip().strip("<>"))
                            self.reply("250 ok")
                        elif verb == "DATA":
                            self.reply("354 end with .")
                            lines = []
                            while (data_line := self.rfile.readline(1 << 20)) not in (b".\r\n", b".\n", b""):
                                lines.append(data_line[1:] if data_line.startswith(b"..") else data_line)
                            with state.lock:
                                state.messages.append(
                                    Received(mail_from, rcpts, b"".join(lines), auth, self.secure)
                                )
                            self.reply("250 queued")
                        elif verb in ("RSET", "NOOP"):
                            self.reply("250 ok")
                        elif verb == "QUIT":
                            self.reply("221 bye")
                            return
                        else:
                            self.reply("502 not implemented")
                except (ConnectionError, OSError, ssl.SSLError):
                    return

            def authenticate(self, arg: str) -> tuple[str, str] | None:
                mech, _, initial = arg.partition(" ")
                if mech.upper() == "PLAIN":
                    if not initial:
                        self.reply("334 ")
                        initial = self.readline()
                    _, user, password = base64.b64decode(initial).decode().split("\0")
                    return user, password
                if mech.upper() == "LOGIN":
                    self.reply("334 " + base64.b64encode(b"Username:").decode())
                    user = base64.b64decode(self.readline()).decode()
                    self.reply("334 " + base64.b64encode(b"Password:").decode())
                    return user, base64.b64decode(self.readline()).decode()
                return None

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def messages(self) -> list[Received]:
        with self.state.lock:
            return list(self.state.messages)

    def __enter__(self) -> SmtpReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

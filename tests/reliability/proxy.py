"""A TCP proxy on loopback that a test can cut: new connections refused, open ones reset.

Put it between a process and PostgreSQL (or anything else on 127.0.0.1) to
make the database go away and come back while the process runs.
"""

from __future__ import annotations

import socket
import struct
import threading
from contextlib import suppress


class _Pair:
    """One proxied connection: the client's socket and the one to the target."""

    def __init__(self, client: socket.socket, upstream: socket.socket) -> None:
        self.client = client
        self.upstream = upstream
        self.reset = threading.Event()


def _abort(sock: socket.socket) -> None:
    """Close `sock` with a reset, waking a thread blocked in its recv() first.

    close() alone neither wakes such a thread nor releases the socket on Linux: the
    connection would stay open, silent, for as long as that recv() waits (which is how
    the first version of this proxy left sessions half-open on both sides of a "cut").
    """
    with suppress(OSError):
        # SO_LINGER 0: close with RST, as a dead server or a broken network does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.shutdown(socket.SHUT_RD)  # wakes the reader; sends nothing
    with suppress(OSError):
        sock.close()


class CuttableProxy:
    """Forward 127.0.0.1:<port> to a target address until `cut()`; `restore()` reopens."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._lock = threading.Lock()
        self._pairs: list[_Pair] = []
        self._orphans: list[_Pair] = []
        self._listener: socket.socket | None = None
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = int(probe.getsockname()[1])
        probe.close()
        self.connections = 0

    def start(self) -> CuttableProxy:
        """Listen and forward."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by cut()
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            pair = _Pair(client, upstream)
            with self._lock:
                if self._listener is not listener:  # cut while this one was connecting
                    _abort(client)
                    _abort(upstream)
                    continue
                self._pairs.append(pair)
                self.connections += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(pair, a, b), daemon=True).start()

    @staticmethod
    def _pump(pair: _Pair, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        if not pair.reset.is_set():  # the other side closed: pass the FIN on
            with suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def cut(self, *, orphan_server_sessions: bool = False) -> None:
        """Refuse new connections and reset every open one.

        With `orphan_server_sessions`, only the clients' side is reset: the target keeps
        its end open and learns nothing, as when a network breaks between the two (a
        PostgreSQL session in a transaction then holds its locks until it times out).
        """
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, []
        if listener is not None:
            # close() alone does not wake a thread blocked in accept() on Linux.
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for pair in pairs:
            pair.reset.set()
            _abort(pair.client)
            if orphan_server_sessions:
                self._orphans.append(pair)
            else:
                _abort(pair.upstream)

    def restore(self) -> None:
        """Accept connections again."""
        self.start()

    def stop(self) -> None:
        """Cut for good, the target's side of orphaned connections too."""
        self.cut()
        orphans, self._orphans = self._orphans, []
        for pair in orphans:
            _abort(pair.upstream)

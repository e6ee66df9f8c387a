"""Bounded capture of a checker's output: the head and tail of each stream, and a byte count."""

from __future__ import annotations


class OutputCapture:
    """Head and tail of one stream plus a byte count."""

    __slots__ = ("cap", "head", "tail", "total")

    def __init__(self, cap: int) -> None:
        self.cap, self.head, self.tail, self.total = cap, bytearray(), bytearray(), 0

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        room = self.cap - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * self.cap:
                del self.tail[: -self.cap]

    def value(self) -> bytes:
        tail = bytes(self.tail[-self.cap :]) if self.tail else b""
        dropped = self.total - len(self.head) - len(tail)
        marker = b"\n...[%d bytes dropped]...\n" % dropped if dropped else b""
        return bytes(self.head) + marker + tail

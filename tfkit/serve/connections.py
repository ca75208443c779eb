"""A limit uvicorn has no setting for: the time a client has to send a request's headers.

uvicorn closes idle keep-alive connections (``timeout_keep_alive``) and caps
connections (``limit_concurrency``), but a client that opens a connection and
sends half a header line holds it forever. :func:`h11_protocol` gives uvicorn's
own h11 protocol a timer for that, restarted for each request on a connection.
"""

from uvicorn.protocols.http.h11_impl import H11Protocol


def h11_protocol(header_timeout_seconds):
    """uvicorn's h11 protocol class, closing a connection whose request headers take longer than the timeout."""

    class HeaderTimeoutH11Protocol(H11Protocol):
        _header_timer = None

        def connection_made(self, transport):
            super().connection_made(transport)
            self._start_header_timer()

        def on_response_complete(self):
            super().on_response_complete()
            self._start_header_timer()  # the next request on this connection has the same time for its headers

        def connection_lost(self, exc):
            self._stop_header_timer()
            super().connection_lost(exc)

        def _start_header_timer(self):
            self._stop_header_timer()
            self._header_timer = self.loop.call_later(header_timeout_seconds, self._headers_timed_out)

        def _stop_header_timer(self):
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_timed_out(self):
            waiting = self.cycle is None or self.cycle.response_complete  # no request whose headers all came
            if waiting and not self.transport.is_closing():
                self.transport.close()

    return HeaderTimeoutH11Protocol

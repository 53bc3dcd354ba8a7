"""The course's small MCP server: lesson 09's weather and price stubs as MCP tools, over streamable HTTP.

Written with the official ``mcp`` package (``MCPServer``) and served by uvicorn in a daemon thread on 127.0.0.1,
so a lesson starts it, uses it (directly with the ``mcp`` client, from the Responses API's ``mcp`` tool through
the course's local backend, or from an Agents SDK agent) and stops it. It listens on :data:`DEFAULT_PORT`, or on a
free port when that one is taken (two lessons at once): replay matches a request whatever loopback port its URLs
name (:mod:`helpers.replay.canon`), so recorded answers still match.

The data is authored for the course (lesson 09's tables): not real weather, not a real market price.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Literal

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import ToolAnnotations

# Authored sample data (lesson 09): not real weather, not a real market price.
WEATHER: dict[str, dict[str, Any]] = {
    "Montevideo": {"temperature_c": 17, "sky": "light rain", "wind_kmh": 22},
    "Lisbon": {"temperature_c": 24, "sky": "sunny", "wind_kmh": 9},
    "Oslo": {"temperature_c": 6, "sky": "overcast", "wind_kmh": 14},
}
BITCOIN: dict[str, float] = {"USD": 61_250.00, "EUR": 56_480.00, "UYU": 2_461_000.00}

DEFAULT_PORT = 8766  # the usual port, so printed URLs are the same on every run
PATH = "/mcp"
READ_ONLY = ToolAnnotations(read_only_hint=True)


def get_weather(city: str, unit: Literal["celsius", "fahrenheit"] = "celsius") -> dict[str, Any]:
    """Current weather for one city: temperature, sky and wind."""
    if city not in WEATHER:
        raise ToolError(f"no weather data for {city!r}; known cities: {', '.join(WEATHER)}")
    report = dict(WEATHER[city], city=city)
    if unit == "fahrenheit":
        report["temperature_f"] = round(report.pop("temperature_c") * 9 / 5 + 32)
    return report


def get_bitcoin_price(currency: Literal["USD", "EUR", "UYU"]) -> dict[str, Any]:
    """Latest price of one bitcoin in a currency: USD, EUR or UYU."""
    if currency not in BITCOIN:
        raise ToolError(f"no price in {currency!r}; known currencies: {', '.join(BITCOIN)}")
    return {"currency": currency, "price": BITCOIN[currency], "note": "authored sample value"}


def build_server() -> MCPServer:
    """The MCP server object with both tools (read-only, annotated so)."""
    server = MCPServer("course-tools", instructions="Lesson 09's weather and bitcoin stubs (authored data).",
                       log_level="WARNING")
    for tool in (get_weather, get_bitcoin_price):  # text results, no output schema (nothing for clients to
        server.add_tool(tool, annotations=READ_ONLY, structured_output=False)  # validate, which is slow to load)
    return server


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a closed port is free
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def security(public_host: str | None) -> TransportSecuritySettings:
    """DNS-rebinding protection: requests must name this machine (or ``public_host``, a tunnel's host name)."""
    hosts = ["127.0.0.1:*", "localhost:*", *([public_host] if public_host else [])]
    origins = ["http://127.0.0.1:*", "http://localhost:*", *([f"https://{public_host}"] if public_host else [])]
    return TransportSecuritySettings(enable_dns_rebinding_protection=True, allowed_hosts=hosts,
                                     allowed_origins=origins)


class ToolServer:
    """The MCP server running in a daemon thread; ``url`` is its streamable HTTP endpoint.

    It listens on 127.0.0.1 only. Behind a tunnel that forwards a public HTTPS name to this port, pass that name as
    ``public_host`` (e.g. ``"abc.trycloudflare.com"``), or the server refuses the forwarded requests' Host header.
    """

    def __init__(self, port: int = DEFAULT_PORT, public_host: str | None = None) -> None:
        if port and not port_is_free(port):
            port = 0  # taken: any free port serves as well (see the module's docstring)
        app = build_server().streamable_http_app(streamable_http_path=PATH, json_response=True,
                                                 stateless_http=True, transport_security=security(public_host))
        self._server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                                     lifespan="on"))
        self._thread = threading.Thread(target=self._server.run, name="course-mcp-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the MCP server did not start (see the log above)")
            time.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def stop(self) -> None:
        """Stop serving (idempotent); afterwards the URL refuses connections."""
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> ToolServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(port: int = DEFAULT_PORT, public_host: str | None = None) -> ToolServer:
    """Start the course's MCP server on 127.0.0.1 and return it (call ``.stop()`` when done)."""
    return ToolServer(port, public_host)

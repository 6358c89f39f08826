"""python-telegram-bot's HTTP transport on aiohttp (the client slack-sdk and our server use).

PTB's default transport (httpx + httpcore) costs about 0.9 ms of CPU per Bot API call here, and
more with many calls in flight: every lock httpcore creates probes for ``sniffio`` and its pool
checks every idle connection on every request. This class costs ~0.3 ms per call
(bench/README.md). It is a plain :class:`telegram.request.BaseRequest`: PTB still builds the
requests, parses the answers and raises its own errors.

Timeouts: aiohttp has no per-write timeout, so ``connect`` bounds getting a connection (from the
pool or a new one), ``read`` bounds the wait for each chunk of the answer, and the whole request
is bounded by the sum of all four.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

MEDIA_WRITE_TIMEOUT = 20.0  # uploads get longer to write, as in PTB's default transport
JSON_HEADERS = {"Content-Type": "application/json"}


class AiohttpRequest(BaseRequest):
    """One ``aiohttp.ClientSession`` with at most ``pool_size`` connections."""

    def __init__(self, pool_size: int = 16, timeout: float | None = 5.0) -> None:
        self._pool_size = pool_size
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                headers={"User-Agent": self.USER_AGENT},
            )

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        uploads = request_data is not None and request_data.contains_files
        read = self._given(read_timeout)
        write = self._given(write_timeout, MEDIA_WRITE_TIMEOUT if uploads else None)
        connect, pool = self._given(connect_timeout), self._given(pool_timeout)
        parts = (connect, pool, write, read)
        timeout = aiohttp.ClientTimeout(
            total=None if None in parts else sum(parts),  # type: ignore[arg-type]
            connect=None if connect is None or pool is None else connect + pool,
            sock_read=read,
        )
        body, headers = _body(request_data)
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors (some ClientErrors too)
            raise TimedOut(f"aiohttp: {type(exc).__name__}") from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {exc}") from exc

    def _given(self, value: ODVInput[float], default: float | None = None) -> float | None:
        """A timeout PTB passed, or ours (``default`` first) where it passed none."""
        if isinstance(value, DefaultValue):
            return default if default is not None else self._timeout
        return value


def _body(request_data: RequestData | None) -> tuple[Any, dict[str, str] | None]:
    """The request's body and its headers: the parameters as one JSON object (the Bot API takes
    ``application/json``; aiohttp's form encoding costs a third of a call's CPU), a multipart
    form when files are uploaded."""
    if request_data is None:
        return None, None
    if not request_data.contains_files:
        return json.dumps(request_data.parameters).encode(), JSON_HEADERS
    form = aiohttp.FormData(request_data.json_parameters)
    for name, (filename, content, mime) in request_data.multipart_data.items():
        form.add_field(name, content, filename=filename, content_type=mime)
    return form, None

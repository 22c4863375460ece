"""HTTP/1.1 on the wire, as the local gateway speaks it: to clients (inflow_dev.gateway) and to the
function processes polling the Lambda Runtime API (inflow_dev.lambda_api). A request is read
whole, within the quotas it is given (API Gateway's: 10,240 bytes of request line and header
values, a 10 MB body), and strictly: framing that is not plain (a Content-Length or chunk size
that is not ASCII digits, a Transfer-Encoding other than chunked, folded or malformed header
lines) is refused with HttpError(400), never guessed at. Responses are written with an explicit
length and `connection: keep-alive` or `close`.
"""

import asyncio
import http
import json

PAYLOAD_QUOTA = 10 * 1024 * 1024  # HTTP API quota: the body
TCHAR = set(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def decode_text(raw):
    """Bytes from the wire as text: UTF-8 when they are, else Latin-1 (one character a byte)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


class HttpError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class Request:
    def __init__(self, method, target, version, headers, body, request_line):
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers  # [(name, value)], names as sent
        self.body = body
        self.request_line = request_line

    def header(self, name):
        name = name.lower()
        values = [v for n, v in self.headers if n.lower() == name]
        return ",".join(values) if values else None

    @property
    def keep_alive(self):
        connection = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection


async def read_request(reader, writer, quota=None, body_limit=PAYLOAD_QUOTA, first=b""):
    """The next request on a connection (whose first byte, if already read, is `first`), or None
    at its end. Raises HttpError for what cannot be taken (the connection is then closed)."""
    try:
        head = first + await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as err:
        if (first + err.partial).strip():
            raise HttpError(400, "Bad Request") from None
        return None
    except asyncio.LimitOverrunError:
        raise HttpError(431, "Request Header Fields Too Large") from None
    lines = head[:-4].lstrip(b"\r\n").split(b"\r\n")
    request_line = lines[0]
    words = request_line.split(b" ")
    if len(words) < 3 or not words[-1].startswith(b"HTTP/1.") or not words[0]:
        raise HttpError(400, "Bad Request")
    method = words[0].decode("latin-1")
    if any(c not in TCHAR for c in words[0]):
        raise HttpError(400, "Bad Request")
    # Everything between the method and the version, raw spaces included (API Gateway passes them).
    target = decode_text(b" ".join(words[1:-1]))
    version = words[-1].decode("latin-1")
    headers = []
    size = len(request_line)
    for line in lines[1:]:
        if not line or line[:1] in (b" ", b"\t"):
            raise HttpError(400, "Bad Request")
        name, sep, value = line.partition(b":")
        if not sep or not name or any(c not in TCHAR for c in name):
            raise HttpError(400, "Bad Request")
        value = value.strip(b" \t")
        if any((c < 0x20 and c != 0x09) or c == 0x7F for c in value):
            raise HttpError(400, "Bad Request")
        size += len(value)
        headers.append((name.decode("latin-1"), decode_text(value)))
    if quota is not None and size > quota:
        raise HttpError(431, "Request Header Fields Too Large")
    request = Request(method, target, version, headers, b"", request_line)
    coding = request.header("transfer-encoding")
    chunked = coding is not None
    if chunked and coding.strip().lower() != "chunked":  # the only coding taken: no gzip, no lists
        raise HttpError(400, "Bad Request")
    length = request.header("content-length")
    if chunked and length is not None:
        raise HttpError(400, "Bad Request")
    if length is not None:
        values = {v.strip(" \t") for v in length.split(",")}
        # ASCII digits only: str.isdigit() and int() also take "²" or "١٢".
        if len(values) != 1 or not all(v and all(c in "0123456789" for c in v) for v in values):
            raise HttpError(400, "Bad Request")
        length = int(values.pop())
        if length > body_limit:
            raise HttpError(413, "Request Entity Too Large")
    if (request.header("expect") or "").lower() == "100-continue" and (chunked or length):
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    if chunked:
        request.body = await read_chunked(reader, body_limit)
    elif length:
        try:
            request.body = await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            return None
    return request


async def read_chunked(reader, limit):
    body = bytearray()
    try:
        while True:
            line = await reader.readuntil(b"\r\n")
            size_text = line.split(b";", 1)[0].strip(b" \t\r\n")
            # Hex digits only: int(…, 16) also takes "-5", "0x10" and "1_0".
            if not size_text or len(size_text) > 16 or any(c not in b"0123456789abcdefABCDEF" for c in size_text):
                raise HttpError(400, "Bad Request")
            size = int(size_text, 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return bytes(body)
            if len(body) + size > limit:
                raise HttpError(413, "Request Entity Too Large")
            body += await reader.readexactly(size)
            if await reader.readexactly(2) != b"\r\n":
                raise HttpError(400, "Bad Request")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        raise HttpError(400, "Bad Request") from None


def _header_bytes(text):
    text = str(text).replace("\r", " ").replace("\n", " ")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def encode_response(status, headers, body, keep_alive=True, head=False):
    try:
        reason = http.HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}".encode()]
    for name, value in headers:
        lines.append(_header_bytes(name) + b": " + _header_bytes(value))
    lines.append(b"content-length: " + str(len(body)).encode())
    lines.append(b"connection: " + (b"keep-alive" if keep_alive else b"close"))
    return b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if head else body)


def message(status, text, extra=()):
    body = json.dumps({"message": text}, separators=(",", ":")).encode()
    return status, [("content-type", "application/json"), *extra], body


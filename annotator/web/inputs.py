"""Input no database stores faithfully, refused at the door, before any view or form reads it.

URL parts, query strings, form fields, file names and the JSON bodies pages
receive: bytes that are not UTF-8, NUL, lone surrogates, ids no column holds,
and JSON beyond the standard (see stats.strict_json) are a 400 (a 404 in the
URL) that names the field. The API checks its own bodies (api.json_body).
"""
from __future__ import annotations

import codecs
import io
import re
import tempfile
from functools import cached_property
from itertools import chain
from typing import IO, Any, Callable, Iterable, Iterator, TypeVar
from urllib.parse import unquote_to_bytes

import orjson
from flask import Request, Response, abort, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.datastructures import Headers
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData
from werkzeug.wsgi import LimitedStream

from annotator.stats import strict_json, textcheck
from annotator.web.csrf import UNSAFE_METHODS
from annotator.web.errors import json_error, wants_json


class StrictJSONProvider(DefaultJSONProvider):
    """request.get_json() and every form (Flask-WTF reads JSON bodies too) parse strict JSON:
    NaN, Infinity, out-of-range numbers and nesting too deep are a bad request (400), never a 500."""

    def loads(self, s: str | bytes, **kwargs):  # noqa: ANN201  (options such as parse_constant would undo the rules)
        return strict_json.loads(s)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        """A compact JSON answer written by orjson (the article document's 160 KB: 1.4 ms -> 0.3 ms).

        The same JSON as Flask's writer, keys sorted, dates through `default` as Flask spells them;
        characters beyond ASCII are written as UTF-8 rather than as \\u escapes. Anything orjson
        does not take (an integer beyond 64 bits, a lone surrogate) falls back to Flask's writer.
        """
        obj = self._prepare_response_obj(args, kwargs)
        if (self.compact is None and self._app.debug) or self.compact is False:
            return super().response(obj)  # indented for people, in debug mode
        try:
            body = orjson.dumps(obj, default=self.default, option=_ORJSON_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            return super().response(obj)
        return self._app.response_class(body, mimetype=self.mimetype)


PIECE = 64 * 1024  # a multipart body is read and checked this much at a time
SPOOL_IN_MEMORY = 512 * 1024  # and kept for the form parser in memory up to this size, on disk beyond (werkzeug's own limit for a file)
V = TypeVar("V", bound=Callable[..., Any])
_ORJSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_APPEND_NEWLINE


class _BodyUpToTheLimit(LimitedStream):
    """A body the server ends (a chunked one: no Content-Length) read up to the request's limit. Werkzeug's reader of
    a whole body stops at the limit without a word, so a longer body was cut short and used: a JSONL body twice the
    limit stored its first half. Reaching the limit, this one looks for one byte more, and refuses the body (413)."""

    def readall(self) -> bytes:
        body = super().readall()
        self.refuse_more()
        return body

    def refuse_more(self) -> None:
        """A 413 when the body, read up to the limit, goes on past it."""
        if self.is_exhausted and self._stream.read(1):
            raise RequestEntityTooLarge()


class BoundedRequest(Request):
    """Flask's request, whose body is never longer than its limit (MAX_CONTENT_LENGTH, or a view's own) and never
    silently shorter than what was sent: over the limit is a 413, with or without a Content-Length."""

    @cached_property
    def stream(self) -> IO[bytes]:
        limit = self.max_content_length
        if "wsgi.input_terminated" in self.environ and limit is not None and not self.shallow:
            declared = self.content_length
            if declared is not None and declared > limit:
                raise RequestEntityTooLarge()
            return _BodyUpToTheLimit(self.environ["wsgi.input"], limit, is_max=True)
        return super().stream

    def close(self) -> None:
        """The uploaded files, and the copy of a multipart body the raw check kept for the form parser (_spooled_body)."""
        super().close()
        stream = self.__dict__.get("stream")
        if isinstance(stream, tempfile.SpooledTemporaryFile):
            stream.close()


def is_api() -> bool:
    """A request to the JSON API (api.py and the blueprints beside it under /api, such as suggestions.py),
    which checks its own bodies."""
    return request.path.startswith("/api/")


def _form_encoded_problem(raw: bytes, what: str) -> str | None:
    """Why an application/x-www-form-urlencoded string (query string or body) holds text we refuse, or None.

    Werkzeug leaves bytes that are not UTF-8 percent-encoded in the value ("%E9" stays "%E9") and lets NUL
    through; both are refused here, naming the field (_FormFieldsCheck, which a form body is fed a piece at a time).
    """
    if not raw:  # nothing to check (most requests have no query string): no decoder built
        return None
    return _FormFieldsCheck(what).feed(raw, final=True)


def _multidict_problem(values, what: str) -> str | None:  # noqa: ANN001  (a werkzeug MultiDict)
    for name, value in values.items(multi=True):
        reason = textcheck.problem(name) or (textcheck.problem(value) if isinstance(value, str) else None)
        if reason:
            return f"{what} {textcheck.shown(name)} {reason}"
    return None


def _url_problem() -> str | None:
    """An integer in the URL beyond any stored id, or text with NUL or that is not valid Unicode: nothing has it
    (a 404). Werkzeug decodes the path as UTF-8 with U+FFFD in place of bytes that are not (or of an encoded
    surrogate), so the address as sent (RAW_URI: gunicorn and werkzeug both give it) is decoded strictly here."""
    environ = request.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    try:
        if raw is not None:
            unquote_to_bytes(raw.split("?", 1)[0].encode("latin-1")).decode("utf-8")  # WSGI text is latin-1 bytes
        else:
            environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
    except UnicodeError:
        return "There is no page at that address (it is not valid UTF-8)."
    for name, value in (request.view_args or {}).items():
        if isinstance(value, int) and not 0 <= value <= textcheck.MAX_DB_INT:
            return f"There is no {name.replace('_id', '').replace('_', ' ')} {'with so large a number' if value > 0 else value}."
        if isinstance(value, str) and textcheck.problem(value):
            return f"There is no {name.replace('_', ' ')} like that (it {textcheck.problem(value)})."
    return None


class _FormFieldsCheck:
    """_form_encoded_problem's check of an urlencoded body fed a piece at a time, holding no more than a piece: an
    escape cut by a piece's end ("%E" ... "9") waits for the next, and each name and value goes through an incremental
    UTF-8 decoder (a character's bytes may fall in two pieces), so a long value is never gathered."""

    SHOWN = 64  # characters of a field's name kept for the message (textcheck.shown shows 40)

    def __init__(self, what: str) -> None:
        self.what = what
        self.carry = b""  # an escape the last piece cut ("%", "%E")
        self.in_value = False
        self.name = ""
        self.name_problem: str | None = None
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def feed(self, piece: bytes, final: bool = False) -> str | None:
        """Why the body so far holds text we refuse, or None; `final` with the last piece (b"" will do)."""
        data, self.carry = self.carry + piece, b""
        cut = data.find(b"%", len(data) - 2)
        if cut != -1 and not final:
            data, self.carry = data[:cut], data[cut:]
        for token in _SEPARATORS.split(data):
            if token == b"&" or (token == b"=" and not self.in_value):
                reason = self._text(b"", True)
                if reason:
                    return reason
                self.in_value = token == b"="
                if token == b"&":
                    self.name, self.name_problem = "", None
                self.decoder = codecs.getincrementaldecoder("utf-8")()
            elif token:
                reason = self._text(token, False)
                if reason:
                    return reason
        return self._text(b"", True) if final else None

    def _text(self, raw: bytes, end: bool) -> str | None:
        try:
            text = self.decoder.decode(unquote_to_bytes(raw.replace(b"+", b" ")), final=end)
        except UnicodeDecodeError:
            return f"{self.what} {textcheck.shown(self.name)} is not valid UTF-8 text" if self.in_value else f"a {self.what} name is not valid UTF-8"
        reason = textcheck.problem(text)
        if not self.in_value:  # said once the whole name is read, so that the message shows it however the body was cut
            self.name += text[: self.SHOWN - len(self.name)]
            self.name_problem = self.name_problem or reason
            reason = self.name_problem if end else None
        return f"{self.what} {textcheck.shown(self.name)} {reason}" if reason else None


_SEPARATORS = re.compile(rb"([&=])")


def _form_too_large(form_limit: int) -> RequestEntityTooLarge:
    """The 413 of a form past the parser's limit, saying which limit: it said the upload limit's 32 MB, for 500 kB."""
    return RequestEntityTooLarge(f"The form is larger than the limit of {form_limit // 1000} kB for a form's fields: "
                                 "send long text as a file (an upload or `annotator import`).")


# A form's fields beside its long text (CSRF token, hidden fields, buttons), and the most bytes one character takes
# on the wire: 4 UTF-8 bytes, each %XX in an urlencoded body, or a JSON escape pair ("\\ud83d\\ude00") for an emoji.
FORM_OVERHEAD = 16 * 1024
WIRE_BYTES_PER_CHAR = 12


def form_limit(max_chars: int) -> Callable[[V], V]:
    """A view whose form carries a text of up to `max_chars` characters, of any script: its form limit is sized from
    them (_sized_form_limit), not the 500 kB of every form, which 100,000 Cyrillic letters urlencoded already passed.
    A longer text then reaches the form, which refuses it with its own message."""

    def mark(view: V) -> V:
        view.form_limit = FORM_OVERHEAD + WIRE_BYTES_PER_CHAR * max_chars  # type: ignore[attr-defined]
        return view

    return mark


def _sized_form_limit() -> None:
    """The matched view's own form limit (form_limit), set on this request before anything reads its body."""
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, "form_limit", None)
    if limit is not None:
        request.max_form_memory_size = limit


def _urlencoded_body_problem() -> str | None:
    """The form's text checked raw as it is read (the form parser keeps a byte that is not UTF-8 as its percent escape,
    "%E9", which no check after it could tell), and spooled for the parser (_spooled_body). A body sent without a length
    (chunked) is held to the parser's own limit for a form (max_form_memory_size), as one with a length is: it was read
    whole, up to the upload limit, and parsed in memory (an 8 MiB body took 40 MiB)."""
    length, form_limit, limit = request.content_length, request.max_form_memory_size, request.max_content_length
    if length is not None and limit is not None and length > limit:
        return None  # over the upload limit: the form parser answers (413)
    if length is not None and form_limit is not None and length > form_limit:
        raise _form_too_large(form_limit)
    check, reason, read = _FormFieldsCheck("form field"), None, 0
    for piece in _spooled_body(request):
        read += len(piece)
        if form_limit is not None and read > form_limit:
            raise _form_too_large(form_limit)
        reason = reason or check.feed(piece)
    return reason or check.feed(b"", final=True) or _multidict_problem(request.form, "form field")


def _field_decoder(headers: Headers) -> tuple[codecs.IncrementalDecoder | None, str]:
    """How werkzeug's parser will read a field (MultiPartParser.get_part_charset): as its part's charset when that is
    ascii, us-ascii or iso-8859-1, any other as UTF-8, each with U+FFFD for what does not decode. So the check reads it
    alike, strictly (None: iso-8859-1, where every byte is a character): it read only charset=utf-8 parts, and a
    field sent with charset=latin-1 (or utf-16, utf_8 ...) was stored with U+FFFD in place of its bytes."""
    charset = parse_options_header(headers.get("content-type", ""))[1].get("charset", "").lower()
    if charset == "iso-8859-1":
        return None, ""
    if charset in ("ascii", "us-ascii"):
        return codecs.getincrementaldecoder("ascii")(), "ASCII"
    return codecs.getincrementaldecoder("utf-8")(), "UTF-8"


def _decodes(check: codecs.IncrementalDecoder, piece: Data) -> bool:
    """Whether a field's value decodes so far (to its end with its last piece): a character may span two pieces."""
    try:
        check.decode(piece.data, final=not piece.more_data)
    except UnicodeDecodeError:
        return False
    return True


def _multipart_raw_problem(body: Iterable[bytes], boundary: str) -> str | None:
    """The first field (not a file) whose value is not UTF-8, in a multipart body as sent (its pieces, in order):
    werkzeug's parser decodes field values with U+FFFD in place of such bytes, so no check after it could tell
    ("Caf\ufffd" was stored). Fed a piece at a time, so that the decoder holds a piece, not the body."""
    name, check, what = None, None, ""
    try:
        decoder = MultipartDecoder(boundary.encode("latin-1"))
        for piece in chain(body, [None]):  # None: the end
            decoder.receive_data(piece)
            event = decoder.next_event()
            while not isinstance(event, (Epilogue, NeedData)):
                if isinstance(event, Field):
                    name, (check, what) = event.name, _field_decoder(event.headers)
                elif isinstance(event, File):
                    name = None  # a file's bytes are its reader's to judge (the import names the file and line)
                elif isinstance(event, Data) and name is not None and check is not None and not _decodes(check, event):
                    return f"form field {textcheck.shown(name)} is not valid {what} text"
                event = decoder.next_event()
            if isinstance(event, Epilogue):
                break
    except UnicodeDecodeError:  # in a part's headers (werkzeug's parser then drops the whole form without a word)
        return "a form field's name or a file's name is not valid UTF-8 text"
    except ValueError:  # not multipart as sent: the form parser reads what it can, and the form says what is missing
        return None
    return None


def _spooled_body(request: Request) -> Iterator[bytes]:
    """The body's pieces as read, each also written to a file (in memory while small) that becomes the stream the
    form parser reads: the body is read once and never held whole (`get_data` kept it, and the raw check's decoder
    a copy of it: 64 MiB of memory for a 16 MiB upload)."""
    stream = request.stream
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115  (closed with the request: BoundedRequest.close)
    while not getattr(stream, "is_exhausted", False):
        piece = stream.read(PIECE)
        if not piece:
            break
        spool.write(piece)
        yield piece
    if isinstance(stream, _BodyUpToTheLimit):
        stream.refuse_more()
    spool.seek(0)
    request.__dict__["stream"] = spool  # werkzeug's form parser reads request.stream (a cached property) from here


def _multipart_body_problem() -> str | None:
    length, limit = request.content_length, request.max_content_length
    boundary = request.mimetype_params.get("boundary")
    if boundary and (length is None or limit is None or length <= limit):  # over the limit: the parser answers 413
        pieces = _spooled_body(request)
        reason = _multipart_raw_problem(pieces, boundary)
        for _rest in pieces:  # what the check did not need (past a problem, or the end) is the parser's too
            pass
        if reason:
            return reason
    reason = _multidict_problem(request.form, "form field")
    if reason is None:
        for field, upload in request.files.items(multi=True):
            bad = textcheck.problem(upload.filename or "")
            if bad:
                return f"the file name sent in {textcheck.shown(field)} {bad}"
    return reason


def _encoding_problem() -> str | None:
    """Why the body's Content-Encoding is refused, or None (none, or identity). Nothing here decodes a body: one sent
    gzip was read as its compressed bytes, and a plain one labelled gzip was stored as if the label were not there;
    decoding would also let a small body inflate far past the request's limit."""
    encoding = request.environ.get("HTTP_CONTENT_ENCODING", "").strip().lower()  # request.headers' source, read directly
    if encoding in ("", "identity"):
        return None
    return (f"Content-Encoding {textcheck.shown(encoding)} is not accepted: "
            "send the body uncompressed, without a Content-Encoding header")


def input_problem() -> tuple[int, str] | None:
    """(status, reason) when the request carries text no database stores faithfully or an id no column holds.

    URL parts: an integer beyond any stored id, or text with NUL, is a 404 (nothing has it). A body with a
    Content-Encoding (gzip ...) is a 415: it is never decoded, nor read as if it were plain. The query
    string and form fields: bytes that are not UTF-8, NUL, lone surrogates are a 400 naming the field.
    JSON bodies are checked where they are parsed (api.json_body, and for pages json_to_pages_is_form_like).
    """
    reason = _url_problem()
    if reason:
        return 404, reason
    reason = _encoding_problem()
    if reason:
        return 415, reason
    reason = _form_encoded_problem(request.query_string, "query parameter")
    if reason:
        return 400, reason
    if request.method in UNSAFE_METHODS and not is_api():
        mimetype = request.mimetype
        if mimetype == "application/x-www-form-urlencoded":
            reason = _urlencoded_body_problem()
        elif mimetype == "multipart/form-data":
            reason = _multipart_body_problem()
        if reason:
            return 400, reason
    return None


def refuse_unstorable_input():  # noqa: ANN201  (None, or the refusal)
    """First of all checks (it reads a form body raw, before anything parses it): text that is not valid
    Unicode or holds NUL, and ids beyond any column, never reach a view (see input_problem)."""
    _sized_form_limit()
    found = input_problem()
    if found is None:
        return None
    status, reason = found
    if wants_json():
        return json_error(status, reason)
    abort(status, reason)


def _form_body() -> bytes:
    """A JSON body sent to a page, read up to the limit of a form (max_form_memory_size, 500 kB), past which it is a
    413 as an urlencoded form is: it was read up to the upload limit (32 MiB) and parsed whole, and parsed JSON takes
    up to 45 times its size (2 MiB of "[[],[],...]" took 90 MiB), from anyone with the login page's CSRF token. Kept
    for the form, which reads the body again (Flask-WTF reads JSON as form data)."""
    limit, length = request.max_form_memory_size, request.content_length
    if limit is not None and length is not None and length > limit:
        raise _form_too_large(limit)
    if limit is not None and length is None:  # chunked: read no further than one byte past the limit
        body = request.stream.read(limit + 1)
        if len(body) > limit:
            raise _form_too_large(limit)
        request.__dict__["stream"] = io.BytesIO(body)  # as _spooled_body hands the form parser its copy
    return request.get_data(cache=True)


def json_to_pages_is_form_like():  # noqa: ANN201  (None, or the refusal)
    """Flask-WTF reads a JSON body as form data, and WTForms fields expect strings (all a browser sends):
    a JSON body for a page (not the API, which checks its own) must be an object of strings or lists of
    strings, else a 400 here instead of a crash deep inside a form (e.g. {"name": 5} to /login). Its text is
    checked like the API's (strict JSON, no NUL, no lone surrogate), and held to a form's limit (_form_body)."""
    if request.method not in UNSAFE_METHODS or not request.is_json or is_api():
        return None
    try:
        body = strict_json.loads(_form_body(), storable=True)
    except strict_json.NotJson as exc:  # NaN, 1e400 ...: said here (a form's get_json() would answer a bare 400)
        return json_error(400, f"request body is not valid JSON ({exc})")
    except strict_json.UnstorableText as exc:
        return json_error(400, f"request body: {exc}")
    except ValueError:  # no body, or not JSON at all: a form sees no data
        return None
    if body is None:
        return None
    plain = isinstance(body, dict) and all(
        isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)) for v in body.values()
    )
    return None if plain else json_error(400, "a JSON body sent to a page must be an object of strings, like a form")

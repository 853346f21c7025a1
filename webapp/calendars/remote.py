"""The only place that talks to the freelancer's calendar servers (CalDAV, ICS over HTTP).

Called by the background sync, the write-back and the connect step; never by
a slot request. Every failure comes out as a `CalendarError` with a message
the freelancer can act on; nothing above this module sees `caldav` or
`requests` exceptions.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urljoin, urlsplit

from webapp.validation import N_

if TYPE_CHECKING:
    import caldav
    import requests

# caldav and requests are imported by the functions that talk to a server, not
# at import: every command loads this module (the due kinds), few of them call out.

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
MAX_FEED_BYTES = 20 * 1024 * 1024
MAX_REDIRECTS = 5


class CalendarError(Exception):
    """A calendar could not be read or written; `field` names the input to blame."""

    field = "url"


class Unreachable(CalendarError):
    """No answer, or not a usable one, from the server."""


class AuthFailed(CalendarError):
    """The server refused the user name or password."""

    field = "password"


class NotACalendarServer(CalendarError):
    """The server answered, but not as a calendar."""


@cache
def _ctag_element() -> type[Any]:
    from caldav.elements.base import ValuedBaseElement

    class GetCTag(ValuedBaseElement):
        # CalendarServer's collection tag: changes whenever anything in it does.
        tag = "{http://calendarserver.org/ns/}getctag"

    return GetCTag


@dataclass(frozen=True)
class Source:
    """Where and as whom to read or write."""

    url: str
    username: str | None = None
    password: str | None = None
    allow_private_hosts: bool = False


@dataclass(frozen=True)
class Discovered:
    """A calendar found on a CalDAV account."""

    url: str
    name: str


@dataclass(frozen=True)
class Read:
    """What one read found: the source's tag and its documents (None: unchanged)."""

    tag: str | None
    documents: list[bytes] | None


def normalise_url(url: str) -> str:
    """`webcal://` as `https://`; anything but http(s) with a host is refused."""
    url = url.strip()
    if url.lower().startswith("webcal://"):
        url = "https://" + url[len("webcal://") :]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CalendarError(N_("Give an http:// or https:// address."))
    return url


def check_host(source: Source) -> None:
    """Refuse addresses inside our own network (the server would fetch them for anyone).

    Tests and a local Radicale set `CALENDAR_ALLOW_PRIVATE_HOSTS`.
    """
    if source.allow_private_hosts:
        return
    host = urlsplit(source.url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        raise Unreachable(N_("This host cannot be found.")) from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise CalendarError(N_("This address is not reachable from the internet."))


@contextmanager
def _translated() -> Iterator[None]:
    import requests
    from caldav.lib import error as dav_error

    try:
        yield
    except dav_error.AuthorizationError:
        raise AuthFailed(N_("The server refused this user name or password.")) from None
    except dav_error.NotFoundError:
        raise NotACalendarServer(N_("No calendar at this address.")) from None
    except dav_error.DAVError as exc:
        log.info("calendar server: %s", exc)
        raise NotACalendarServer(N_("The server did not answer as a CalDAV server.")) from None
    except requests.Timeout:
        raise Unreachable(N_("The server did not answer in time.")) from None
    except requests.RequestException as exc:
        log.info("calendar server: %s", exc)
        raise Unreachable(N_("The server cannot be reached.")) from None
    except (ValueError, TypeError, AttributeError) as exc:
        # Malformed XML or answers the caldav library cannot read.
        log.info("calendar server: %s", exc)
        raise NotACalendarServer(N_("The server did not answer as a CalDAV server.")) from None


def _client(source: Source) -> caldav.DAVClient:
    import caldav

    check_host(source)
    return caldav.DAVClient(
        url=source.url,
        username=source.username or None,
        password=source.password or None,
        timeout=TIMEOUT_SECONDS,
    )


def discover(source: Source) -> list[Discovered]:
    """The calendars of a CalDAV account (its principal's calendar home)."""
    with _translated(), _client(source) as client:
        found = [
            Discovered(str(calendar.url), calendar.get_display_name() or _last_part(calendar.url))
            for calendar in client.principal().calendars()
        ]
    if not found:
        raise NotACalendarServer(N_("This account has no calendar."))
    return found


def _last_part(url: object) -> str:
    return str(url).rstrip("/").rsplit("/", 1)[-1] or str(url)


def read_caldav(
    source: Source, calendar_url: str, window: tuple[datetime, datetime], known_tag: str | None
) -> Read:
    """The events of one calendar overlapping `window` (None when its ctag is `known_tag`)."""
    with _translated(), _client(source) as client:
        calendar = client.calendar(url=calendar_url)
        tag = calendar.get_property(_ctag_element()())
        if tag is not None and tag == known_tag:
            return Read(tag, None)
        found = calendar.search(event=True, start=window[0], end=window[1], expand=False)
        return Read(tag, [_bytes(item.data) for item in found])


def _bytes(data: str | bytes) -> bytes:
    return data.encode() if isinstance(data, str) else data


def read_feed(source: Source, known_tag: str | None) -> Read:
    """An ICS feed, conditionally on its ETag (None documents: 304 Not Modified).

    Redirects are followed by hand, each address checked like the first (a
    public feed may not redirect into our own network); the credentials go
    to the feed's own host only.
    """
    import requests

    headers = {"Accept": "text/calendar"}
    if known_tag:
        headers["If-None-Match"] = known_tag
    url = source.url
    for _ in range(MAX_REDIRECTS + 1):
        check_host(replace(source, url=url))
        same_host = urlsplit(url).hostname == urlsplit(source.url).hostname
        auth = (source.username, source.password or "") if source.username and same_host else None
        with (
            _translated(),
            requests.get(
                url,
                headers=headers,
                auth=auth,
                timeout=TIMEOUT_SECONDS,
                stream=True,
                allow_redirects=False,
            ) as response,
        ):
            if response.is_redirect:
                url = normalise_url(urljoin(url, response.headers["Location"]))
                continue
            return _feed_answer(response, known_tag)
    raise Unreachable(N_("The feed redirects too many times."))


def _feed_answer(response: requests.Response, known_tag: str | None) -> Read:
    if response.status_code == 304:
        return Read(known_tag, None)
    if response.status_code in (401, 403):
        raise AuthFailed(N_("The server refused access to this feed."))
    if response.status_code != 200:
        raise Unreachable(N_("The feed did not answer with a calendar."))
    body = response.raw.read(MAX_FEED_BYTES + 1, decode_content=True)
    if len(body) > MAX_FEED_BYTES:
        raise NotACalendarServer(N_("The feed is larger than 20 MB."))
    return Read(response.headers.get("ETag"), [body])


def put_event(source: Source, calendar_url: str, uid: str, data: bytes) -> str:
    """Create or replace the event `uid` in the calendar; returns its address.

    The address is derived from the UID, so a retry replaces the same
    resource instead of adding a copy. A plain PUT: the library's `save`
    would look the UID up and bump SEQUENCE, which is ours (the invite's).
    """
    href = calendar_url.rstrip("/") + f"/{quote(uid)}.ics"
    with _translated(), _client(source) as client:
        answer = client.put(href, data.decode(), {"Content-Type": "text/calendar; charset=utf-8"})
    _expect(answer.status, (200, 201, 204))
    return href


def delete_event(source: Source, href: str) -> None:
    """Remove the event at `href`; one already gone is fine."""
    with _translated(), _client(source) as client:
        answer = client.delete(href)
    _expect(answer.status, (200, 204, 404, 410))


def _expect(status: int, accepted: tuple[int, ...]) -> None:
    if status in (401, 403):
        raise AuthFailed(N_("The server refused this user name or password."))
    if status not in accepted:
        log.info("calendar server answered HTTP %s", status)
        raise NotACalendarServer(N_("The server refused to store the event."))

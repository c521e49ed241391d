"""The W3C Feed Validation Service's rules that apply to our feeds, as checks.

The validator itself is not packaged for any registry this project can reach, so
its rules for RSS 2.0 (with the RSS Advisory Board's profile) and Atom 1.0 are
restated here from its documentation and behaviour: each check names the
validator message it stands for. `problems()` returns them; an empty list means
no error and no warning.
"""

from __future__ import annotations

import calendar
import email.utils
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from lxml import etree

ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"
KNOWN_NAMESPACES = {
    "http://www.w3.org/2005/Atom",
    "http://purl.org/rss/1.0/modules/content/",
    "http://purl.org/dc/elements/1.1/",
    "http://search.yahoo.com/mrss/",  # Media RSS: the validator checks its elements too
}
# rfc2396_full: a scheme, then only URI characters (InvalidFullLink / InvalidUriChar).
FULL_URI = re.compile(r"^[a-zA-Z][0-9a-zA-Z+\-.]*:(//)?[0-9a-zA-Z;/?:@&=+$.\-_!~*'()%,#]+$")
UUID_URN = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# RFC 2822 as the validator wants it (else ProblematicalRFC822Date / InvalidRFC2822Date).
RFC2822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d? (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
    r" \d{4} \d\d:\d\d(:\d\d)? ([+-]?\d\d[03]0|UT|GMT|Z)$"
)
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*)?(Z|[+-]\d\d:\d\d)$")
# HTMLValidator.acceptable_elements / acceptable_attributes (SecurityRisk otherwise).
SAFE_ELEMENTS = set(
    """a abbr acronym address area article aside audio b bdi big blockquote br button canvas
    caption center cite code col colgroup data dd del details dfn dir div dl dt em fieldset
    figcaption figure footer font header h1 h2 h3 h4 h5 h6 hr i img ins kbd label legend li
    main map mark menu meter nav ol optgroup option p picture pre progress q s samp section
    small source span strike strong sub summary sup table tbody td time tfoot th thead tr
    tt u ul var video wbr""".split()
)
SAFE_ATTRIBUTES = set(
    """abbr align alt border cellpadding cellspacing cite class colspan datetime dir height
    href hreflang lang rel rowspan scope src start title type width""".split()
)
HTML_END_TAG = re.compile(r"</(\w+)>")


class _HtmlScan(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SAFE_ELEMENTS:
            self.found.append(f"SecurityRisk: <{tag}>")
        for name, value in attrs:
            if name == "style" or name not in SAFE_ATTRIBUTES:
                self.found.append(f"SecurityRiskAttr: {tag}@{name}")
            if name in ("href", "src") and value is not None and not FULL_URI.match(value):
                if not value.startswith("mailto:"):
                    self.found.append(f"ContainsRelRef or InvalidUriChar: {value!r}")


def _html(where: str, value: str | None) -> list[str]:
    scan = _HtmlScan()
    scan.feed(value or "")
    return [f"{where}: {problem}" for problem in scan.found]


def _text_only(where: str, value: str | None) -> list[str]:
    """nonhtml: plain-text elements must not look like HTML (ContainsHTML)."""
    if value and HTML_END_TAG.search(value):
        return [f"{where}: ContainsHTML {value!r}"]
    return []


def _uri(where: str, value: str | None) -> list[str]:
    if not value or not (FULL_URI.match(value) or UUID_URN.match(value)):
        return [f"{where}: InvalidFullLink {value!r}"]
    return []


def _chars(raw: bytes) -> list[str]:
    text = raw.decode("utf-8")
    if re.search("[\x80-\x9f\ufffd]", text):
        return ["BadCharacters: C1 control or U+FFFD"]
    return []


def _plausible(where: str, moment: datetime, now: datetime) -> list[str]:
    if moment.year < 1990 or moment > now + timedelta(minutes=10):
        return [f"{where}: ImplausibleDate {moment.isoformat()}"]
    return []


def rss_problems(raw: bytes, now: datetime) -> list[str]:
    problems = _chars(raw)
    root = etree.fromstring(raw)
    problems += [
        f"undeclared namespace {ns}" for ns in root.nsmap.values() if ns not in KNOWN_NAMESPACES
    ]
    if root.tag != "rss" or root.get("version") != "2.0":
        return problems + ["not RSS 2.0"]
    channel = root.find("channel")
    for name in ("title", "link", "description"):
        if not (channel.findtext(name) or "").strip():
            problems.append(f"MissingElement channel/{name}")
    problems += _uri("channel/link", channel.findtext("link"))
    selfs = [link for link in channel.findall(f"{ATOM}link") if link.get("rel") == "self"]
    if len(selfs) != 1:
        problems.append("MissingAtomSelfLink")
    elif selfs[0].get("type") != "application/rss+xml" or not FULL_URI.match(
        selfs[0].get("href", "")
    ):
        problems.append("self link: wrong type or not absolute (RelativeSelf/SelfNotAtom)")
    for link in channel.findall(f"{ATOM}link"):
        if link.get("rel") not in ("self", "alternate", "related", "hub"):
            problems.append(f"UnregisteredAtomLinkRel {link.get('rel')}")
        problems += _uri("atom:link@href", link.get("href"))
    for name in ("lastBuildDate", "pubDate"):
        value = channel.findtext(name)
        if value is not None:
            problems += _date822(f"channel/{name}", value, now)
    # CharacterData (RSS Profile): "&" and "<" in plain text as hexadecimal references.
    plain = re.sub(rb"<!\[CDATA\[.*?\]\]>", b"", raw, flags=re.DOTALL)
    if b"&amp;" in plain or b"&lt;" in plain:
        problems.append("CharacterData: encode & and < in plain text as &#x26; and &#x3C;")
    guids: set[str] = set()
    for index, item in enumerate(channel.findall("item")):
        where = f"item[{index}]"
        children = [child.tag for child in item]
        if "title" not in children:
            problems.append(f"{where}: ItemMustContainTitleOrDescription")
        problems += _text_only(f"{where}/title", item.findtext("title"))
        problems += _uri(f"{where}/link", item.findtext("link"))
        guid = item.find("guid")
        if guid is None:
            problems.append(f"{where}: MissingGuid")
        else:
            if guid.text in guids:
                problems.append(f"{where}: DuplicateValue guid")
            guids.add(guid.text or "")
            permalink = guid.get("isPermaLink", "true") == "true"
            value = guid.text or ""
            if permalink and not value.startswith(("http://", "https://")):
                problems.append(f"{where}: InvalidHttpGUID")
            if not permalink and value.isdigit() and len(value) < 9:
                problems.append(f"{where}: NotSufficientlyUnique guid")
            problems += _uri(f"{where}/guid", value)
        if f"{CONTENT}encoded" in children:
            if "description" not in children or children.index("description") > children.index(
                f"{CONTENT}encoded"
            ):
                problems.append(f"{where}: NeedDescriptionBeforeContent")
            problems += _html(f"{where}/content:encoded", item.findtext(f"{CONTENT}encoded"))
        problems += _html(f"{where}/description", item.findtext("description"))
        if item.find("author") is not None:
            problems.append(f"{where}: author must be 'email (Name)'; use dc:creator")
        for category in item.findall("category"):
            if not (category.text or "").strip():
                problems.append(f"{where}: NotBlank category")
            problems += _text_only(f"{where}/category", category.text)
        pub = item.findtext("pubDate")
        if pub is None:
            problems.append(f"{where}: no pubDate")
        else:
            problems += _date822(f"{where}/pubDate", pub, now)
    return problems


def _date822(where: str, value: str, now: datetime) -> list[str]:
    if not RFC2822.match(value):
        return [f"{where}: InvalidRFC2822Date/ProblematicalRFC822Date {value!r}"]
    parsed = email.utils.parsedate_tz(value)
    assert parsed is not None
    moment = datetime.fromtimestamp(email.utils.mktime_tz(parsed), tz=UTC)
    weekday = calendar.day_abbr[moment.astimezone(_offset(parsed[9])).weekday()]
    problems = [] if value.startswith(weekday) else [f"{where}: IncorrectDOW {value!r}"]
    return problems + _plausible(where, moment, now)


def _offset(seconds: int | None) -> object:
    from datetime import timezone

    return timezone(timedelta(seconds=seconds or 0))


def atom_problems(raw: bytes, now: datetime) -> list[str]:
    problems = _chars(raw)
    root = etree.fromstring(raw)
    if root.tag != f"{ATOM}feed":
        return problems + ["not Atom"]
    problems += [
        f"undeclared namespace {ns}" for ns in root.nsmap.values() if ns not in KNOWN_NAMESPACES
    ]
    problems += _uri("feed/id", root.findtext(f"{ATOM}id"))
    if not (root.findtext(f"{ATOM}title") or "").strip():
        problems.append("MissingElement feed/title")
    problems += _atom_date("feed/updated", root.findtext(f"{ATOM}updated"), now)
    feed_author = root.find(f"{ATOM}author")
    links = root.findall(f"{ATOM}link")
    selfs = [link for link in links if link.get("rel") == "self"]
    if len(selfs) != 1 or selfs[0].get("type") != "application/atom+xml":
        problems.append("MissingSelf or SelfNotAtom")
    if not any(link.get("rel", "alternate") == "alternate" for link in links):
        problems.append("feed: no alternate link")
    for link in links:
        problems += _uri("feed/link@href", link.get("href"))
    ids: set[str] = set()
    for index, entry in enumerate(root.findall(f"{ATOM}entry")):
        where = f"entry[{index}]"
        entry_id = entry.findtext(f"{ATOM}id")
        problems += _uri(f"{where}/id", entry_id)
        if entry_id in ids:
            problems.append(f"{where}: DuplicateEntries")
        ids.add(entry_id or "")
        problems += _text_only(f"{where}/title", entry.findtext(f"{ATOM}title"))
        problems += _atom_date(f"{where}/updated", entry.findtext(f"{ATOM}updated"), now)
        if entry.find(f"{ATOM}published") is not None:
            problems += _atom_date(f"{where}/published", entry.findtext(f"{ATOM}published"), now)
        if feed_author is None and entry.find(f"{ATOM}author") is None:
            problems.append(f"{where}: MissingAuthor")
        for author in entry.findall(f"{ATOM}author") + (
            [feed_author] if feed_author is not None else []
        ):
            if not (author.findtext(f"{ATOM}name") or "").strip():
                problems.append(f"{where}: author without a name")
        alternates = [
            link
            for link in entry.findall(f"{ATOM}link")
            if link.get("rel", "alternate") == "alternate"
        ]
        content = entry.find(f"{ATOM}content")
        if content is None and not alternates:
            problems.append(f"{where}: MissingContentOrAlternate")
        for link in entry.findall(f"{ATOM}link"):
            problems += _uri(f"{where}/link@href", link.get("href"))
        if content is not None:
            if content.get("type") not in ("html", "text", "xhtml"):
                problems.append(f"{where}: content type {content.get('type')!r}")
            if content.get("type") == "html":
                problems += _html(f"{where}/content", content.text)
        summary = entry.find(f"{ATOM}summary")
        if summary is not None and summary.get("type", "text") == "text":
            problems += _text_only(f"{where}/summary", summary.text)
        for category in entry.findall(f"{ATOM}category"):
            if not (category.get("term") or "").strip():
                problems.append(f"{where}: category without term")
    return problems


def _atom_date(where: str, value: str | None, now: datetime) -> list[str]:
    if value is None or not RFC3339.match(value):
        return [f"{where}: InvalidRFC3339Date {value!r}"]
    return _plausible(where, datetime.fromisoformat(value.replace("Z", "+00:00")), now)

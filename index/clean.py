"""Find web-page boilerplate in a seed as spans to skip, without ever changing the text.

Cleaning returns the *kept regions* of the original text: ``text[start:end]`` runs of lines with
no boilerplate between them. Chunks are cut inside kept regions, so every chunk is still an exact
slice of the original file. The rules name no site or article; each is one kind of boilerplate,
and each looks at one whole line (the rule name is in brackets):

- Lines that are nothing but page furniture, matched in full (a line split by ``|``, ``·`` or ``•``
  is boilerplate when every piece is):
  separators ``|``, ``-`` [separator]; ``Print``, ``Leave a Comment``, ``Report an error``
  [page-word]; ``Share on X``, ``Tweet``, ``Facebook WhatsApp Email``, ``Copy link`` [share];
  ``Advertisement``, ``Sponsored content`` [advert]; ``Accept all cookies``, ``Manage preferences``
  [consent]; ``12 comments``, ``Comments (4)`` [counter]; ``Listen to this article``, ``4 min read``
  [reading-time]; ``Updated 3 hours ago``, ``Published: 12:45 GMT, 3 March 2025`` [timestamp];
  ``Posted on …``, ``by …`` [byline]; ``Home > World > Europe`` [breadcrumb];
  ``Terms of Use | Privacy Policy`` [site-links]; bare URLs and syndication lines [footer].
- Lines that start with a label: ``© 2024 …``, ``Copyright 2024 …``, ``… All rights reserved.``
  [copyright]; ``Follow us on Instagram``, ``Follow @name on X``, ``Join our Telegram channel``
  [follow]; ``Related: …``, ``Read also: …`` [related]; ``Photo: …``, ``Image credit: …``,
  ``File photo`` [photo-credit].
- Short lines (at most ``MAX_NOTICE_CHARS``) holding a phrase only a publisher writes to its
  reader: cookie notices (``We use cookies …``) [consent]; paywalls (``Subscribe for $1``,
  ``Already a subscriber? Log in``, ``Sign in to continue reading``) [subscription]; newsletter and
  affiliate notices [notice]; captions ending in a credit (``… (AP Photo/John Doe)``,
  ``… Getty Images``, ``… Photograph: KCNA via Reuters``) [photo-credit].
- Context: a line repeating an earlier one [repeat]; the document's title [title]; a link list
  under a heading (``Topics``, ``More from …``, ``Related Articles``, ``Recommended``) [link-list].

A sentence is never dropped for a word in it: "The ministry said it would share intelligence",
"Officials follow the situation closely" and "The copyright dispute went to court" match none of
the anchored or whole-line patterns, and a line longer than ``MAX_NOTICE_CHARS`` is never
removed for a phrase or a label in it.
HTML boilerplate removers (trafilatura, jusText) do not fit: they need the page's markup and
rewrite the text, while seeds are plain text and every kept span must be an exact slice of it.

    >>> text = "Troops Sent East\\nTroops Sent East\\n|\\nBody one.\\nMore from Site\\nA link - Site - 2 days ago"
    >>> [text[s:e] for s, e in kept_regions(text)]
    ['Troops Sent East', 'Body one.']
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_NOTICE_CHARS = 300  # a notice is a line or two; a paragraph that mentions a newsletter is content
MAX_LIST_ITEM_CHARS = 160
MAX_BREADCRUMB_ITEM_CHARS = 30


def _any(*alternatives: str) -> str:
    return "(?:" + "|".join(alternatives) + ")"


# --- Whole-line rules: the line (or every ``|``/``·``/``•`` piece of it) matches in full. --------
_SEPARATOR = re.compile(r"[\s|\-–—•·*_=]+")
_PAGE_WORD = re.compile(
    _any(
        r"print( this( article| page)?)?",
        r"leave a comment|add a comment|(show|view|hide|load|read) comments|join the conversation",
        r"comments?|read more|continue reading|read full (article|story)",
        r"skip to (main )?content|back to top|next article|previous article",
        r"report (an error|a typo|a correction|this ad)|suggest a correction|send us a tip|got a tip\??",
        r"sign in|log in|log out|register|menu|search|close",
    )
    + r"\W*",
    re.IGNORECASE,
)
_NETWORK = r"(facebook|x|twitter|linkedin|whatsapp|telegram|reddit|pinterest|messenger|flipboard|bluesky|threads|mastodon|e-?mail|sms)"
_SHARE_ITEM = _any(
    rf"((click to )?share( this( article| story| page| post)?)?( on| via| to| with| by)?:? )?{_NETWORK}"
    r"( \(opens in (a )?new (window|tab)\))?",
    r"share( this( article| story| page| post)?)?( on)?:?",
    r"copy( the| article)? link|link copied|tweet|pin it|save( article| for later)?|gift( this)? article|bookmark",
)
_SHARE = re.compile(rf"{_SHARE_ITEM}([\s|·•,/]+{_SHARE_ITEM})*", re.IGNORECASE)
_ADVERT = re.compile(
    _any(
        r"advertisements?|advertising|advert|ads?|skip (advertisement|ad)|advertise with us",
        r"(sponsored|promoted|paid|partner)( content| post| stories| story| links?| partnership)?"
        r"( (from|by) [\w .&'’-]{1,40})?",
        r"content from our partners|(story|article) continues (below|after)( (this )?(ad|advertisement))?",
    )
    + r"(\s*[-–—:]\s*(scroll (down )?to continue( reading| with content)?|continue reading below))?\s*:?",
    re.IGNORECASE,
)
_CONSENT_BUTTON = re.compile(
    _any(
        r"(accept|reject|decline|allow|refuse|deny)( all| necessary| essential| selected)?( cookies)?",
        r"(manage|customi[sz]e|cookie|privacy) (preferences|settings|options|cookies|choices)",
        r"i (agree|accept)|agree( and (close|continue))?|got it|ok(ay)?|continue without (accepting|agreeing)",
    ),
    re.IGNORECASE,
)
_COUNTER = re.compile(
    _any(
        r"\d[\d,.]*\s*[km]?\s+(comments?|replies|responses|shares?|reactions|likes|views|reads)",
        r"(comments?|replies|shares?|views)\s*(\(\s*\d[\d,.]*\s*[km]?\s*\)|:?\s*\d[\d,.]*\s*[km]?)",
    ),
    re.IGNORECASE,
)
_READING_TIME = re.compile(
    _any(
        r"listen to (this|the) (article|story)( \(\d+ min(ute)?s?\))?|listen( now)?|audio version",
        r"\d+\s*(-\s*)?(min(ute)?s?|m)\.?( read| listen| watch)?",
        r"(estimated )?reading time\s*:?\s*\d+\s*(min(ute)?s?)?|\d{1,2}:\d{2}( min)?",
    ),
    re.IGNORECASE,
)
_MONTH = r"(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?|sep(t(ember)?)?|oct(ober)?|nov(ember)?|dec(ember)?)"
_DAY = r"(mon|tues?|wed(nes)?|thu(rs)?|fri|sat(ur)?|sun)(day)?"
_UNIT = r"(seconds?|secs?|minutes?|mins?|hours?|hrs?|h|days?|d|weeks?|months?|years?)"
_DATE_TOKEN = _any(
    rf"{_MONTH}\.?",
    rf"{_DAY}\.?",
    rf"\d+\s*{_UNIT}",
    r"\d{1,2}[:.]\d{2}(\s*[ap]\.?m\.?)?|\d{1,2}\s*[ap]\.?m\.?|\d+(st|nd|rd|th)?",
    r"gmt|utc|bst|cet|cest|eet|est|edt|pst|pdt|kst|jst|msk|ist",
    r"at|on|ago|today|yesterday|just now",
)
# "Updated 3 hours ago", "Published: 12:45 GMT, 3 March 2025", "2 days ago": date words only.
_TIMESTAMP = re.compile(
    rf"(?=.*(\d|\bago\b|just now))((last |first )?(updated|published|posted|modified|edited)\s*:?\s*)?"
    rf"{_DATE_TOKEN}([\s,/\-–]+{_DATE_TOKEN})*",
    re.IGNORECASE,
)
_BYLINE = re.compile(r"(posted on|published on|updated on|by)\b.{0,80}", re.IGNORECASE)
# One of these alone is a footer link; the words of the second list only in a row of links.
_SITE_LINK_ALONE = _any(
    r"terms of (use|service|sale)( (and|&) conditions)?|terms (and|&) conditions",
    r"privacy (policy|notice|settings)|your privacy choices|cookie (policy|settings|preferences)",
    r"contact us|about us|advertise with us|site ?map|(ethics|editorial|corrections) policy",
    r"do not sell( or share)? my personal information",
)
_SITE_LINK = _any(
    _SITE_LINK_ALONE,
    r"terms|privacy|cookies|contact|about|advertise|careers|accessibility|help( cent(er|re))?|faqs?",
    r"rss( feeds?)?|corrections|imprint|impressum|masthead|licensing|syndication",
)
_SITE_LINKS = re.compile(
    rf"{_SITE_LINK_ALONE}|{_SITE_LINK}(\s*[|·•,/]\s*{_SITE_LINK}|\s+{_SITE_LINK})+", re.IGNORECASE
)
_FOOTER = re.compile(
    r"(the post .+ appeared first on .+|url\s*:\s*https?://\S+|https?://\S+|"
    r"you can read the original article at .+|originally published .+)",
    re.IGNORECASE,
)
_PIECES = re.compile(r"\s*[|·•]\s*")

# --- Label rules: the line starts (or ends) with a label no sentence of prose starts with. -------
# "© 2024 …", "Copyright 2024 Example Media Inc.", "… All rights reserved.": after "Copyright" and
# the year comes a name, so "Copyright 2019 filings showed …" is a sentence.
_COPYRIGHT = re.compile(
    r"^(©|\([cC]\)\s*\d{4}|(?i:copyright)\s*(©|\([cC]\)))"
    r"|^(?i:copyright)\s*\d{4}(\s*[-–]\s*\d{4})?(,?\s+[A-Z].*|\.?)$"
    r"|(?i:all rights reserved)\.?$"
)
_NETWORKS = (
    r"(facebook|instagram|x|twitter|telegram|whatsapp|tiktok|youtube|linkedin|threads|bluesky|"
    r"mastodon|google news|snapchat|discord|signal|viber|flipboard)"
)
_FOLLOW = re.compile(
    _any(
        rf"^(follow|like|find|join|connect with|subscribe to)\s+(us|me|@[\w.]+|[\w .&'’-]{{1,40}}?)\s+(on|via|at)\s+{_NETWORKS}\b",
        rf"^join (us|our)\b.{{0,40}}\b{_NETWORKS}\b",
        r"^(follow( us)?|stay connected|connect with us|follow (the )?(author|topic|this (topic|story|author)))\s*:?$",
    ),
    re.IGNORECASE,
)
_RELATED = re.compile(
    r"^(related( articles?| stories| coverage| content| reading| links?| news)?|read (also|more|next)|"
    r"also read|see also|more on this( story| topic)?|recommended( for you| reading| stories)?|"
    r"don'?t miss|must read|watch|editor'?s picks?)\s*[:|»›>]\s*\S",
    re.IGNORECASE,
)
_PHOTO = re.compile(
    _any(
        r"\((photo|image|picture|credit)s?\s*:[^)]*\)",  # "(Photo: Reuters/sile)"
        r"\((photo|image|picture)s? by [^)]{1,60}\)",  # "(Photo by John Doe/Getty Images)"
        r"\(\s*([\w.'’-]+ ){0,3}photo\s*/[^)]*\)",  # "(AP Photo/John Doe)"
        r"\((file( photo)?|handout|getty images)\)\s*$",
        r"^(photo|photograph|image|picture|video|illustration|graphic|credit|file photo)s?( credits?)?\s*:",
        r"\b(photo|photograph|image|picture|credit|illustration)s?\s*:\s*[^.:]{1,80}$",  # "… Photo: AFP"
        r"(\bvia |/\s*|^|\.\s+)getty images\.?$|^file photo\.?$",
        r"^(reuters|afp|ap|epa(-efe)?|shutterstock|alamy|yonhap|xinhua|kcna|handout)"
        r"( (via|/) [\w .'’-]{1,40})?$",
        r"^courtesy( of)? [\w .'’-]{1,40}$",
    ),
    re.IGNORECASE,
)
_AGENCY_CREDIT = re.compile(r"\b(REUTERS|AFP|EPA(-EFE)?|XINHUA|YONHAP|KCNA)/[A-Z]")  # "REUTERS/Kim Hong-Ji"

# --- Notice rules: a short line holding a phrase only a publisher writes to its reader. ---------
_CONSENT = re.compile(
    r"\b(we|this (web)?site|our (web)?site|our partners)( and (our|its) partners)? (use|uses|store|stores) "
    r"cookies( and similar technologies)?( to| on| for|\.)|\buse of cookies\b|\bcookie (policy|notice|settings|preferences|consent)\b|"
    r"\baccept (all )?cookies\b|\bconsent to (the use of |our use of )?cookies\b",
    re.IGNORECASE,
)
_SUBSCRIPTION = re.compile(
    _any(
        r"^subscribe\b",
        r"\bsubscribe (now|today|here|for (just |only )?[$£€¥]?\d)",
        r"\bsubscribe to (our|the full|read|continue|unlock|get)\b",
        r"\balready (a |an )?(subscriber\b|member\s*\?)|\balready (registered|have an account)\b",
        r"\b(sign|log) ?in to (continue|keep reading|read|access|unlock|comment|view)\b",
        r"\bto (continue|keep) reading\b",
        r"\b(for|exclusive to) (subscribers|members)( only)?\b|\bsubscribers?[- ]only\b",
        r"\bfree (articles?|stories)\b.{0,30}\b(left|remaining|this month)\b|\barticle limit\b",
        r"\b(start|begin|claim|try) (your |a |our )?free trial\b|\bunlimited (digital )?access\b|\bbecome a (member|subscriber|supporter)\b",
        r"\bunlock (this|the full) (article|story)\b|\bsupport (our|independent|quality) journalism\b",
        r"\bthis (article|story|content) is (only )?(available|reserved|exclusive) (to|for)\b",
    ),
    re.IGNORECASE,
)
_NOTICE = re.compile(
    _any(
        r"\bsign up (for|to) (our|a free|the free|free)\b|\bsign up (now|today|here)\b",
        r"\bour\b[\w ’'-]{0,40}\bnewsletters?\b|\bnewsletter\b.{0,40}\b(inbox|sign[- ]?up)\b|\bin your inbox\b",
        r"\baffiliate links?\b|\breceive a commission\b|\bmay (earn|receive) (a )?commission\b",
        r"\bmay not be (published|reproduced|broadcast|rewritten|redistributed)\b",
    ),
    re.IGNORECASE,
)

_LINK_LIST_HEADING = re.compile(
    r"(topics|tags|related( articles?| stories| posts| content| coverage| links| news)?|more from\b.*|"
    r"further reading\b.*|read more\b.*|read (also|next)|also read|see also|more on this( story| topic)?|"
    r"recommended\b.*|you (may|might) also like\b.*|most (popular|read|viewed|shared)|trending( now)?|"
    r"editor'?s picks|more (stories|news)|latest (news|stories)|top stories|what to read next)\s*:?",
    re.IGNORECASE,
)
MAX_HEADING_CHARS = 80


@dataclass(frozen=True)
class Removed:
    """A span of the original text that cleaning skips, and the rule that skipped it."""

    start: int
    end: int
    rule: str


def _lines(text: str) -> list[tuple[int, int]]:
    """Spans of the non-blank lines, trimmed."""
    spans = []
    for match in re.finditer(r"[^\n]+", text):
        start, end = match.start(), match.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start < end:
            spans.append((start, end))
    return spans


_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"})


def _normalise(line: str) -> str:
    """Case, white space and typographic quotes folded: a repeat may differ in those only."""
    return re.sub(r"\s+", " ", line.translate(_QUOTES)).strip().casefold()


def _is_list_item(line: str) -> bool:
    """A link-list entry: short and not a sentence of prose."""
    if _SEPARATOR.fullmatch(line):
        return True
    if len(line) > MAX_LIST_ITEM_CHARS:
        return False
    # Headlines may end in "?" but rarely in a full stop; "Section - Site - date -" rows have dashes.
    return not line.endswith(".") or " - " in line


def _is_breadcrumb(line: str) -> bool:
    """``Home > World > Europe``: three or more short items (or two after ``Home``) between arrows.

    >>> _is_breadcrumb("Home » News » Asia"), _is_breadcrumb("Home / Politics"), _is_breadcrumb("3 > 2")
    (True, True, False)
    """
    items = re.split(r"\s*[>»›]\s*", line)
    if len(items) == 1 and re.match(r"home\s*/", line, re.IGNORECASE):
        items = re.split(r"\s*/\s*", line)
    if len(items) < 2 or (len(items) == 2 and items[0].casefold() not in ("home", "news")):
        return False
    return all(
        0 < len(item) <= MAX_BREADCRUMB_ITEM_CHARS and "." not in item and len(item.split()) <= 4
        for item in items
    )


_WHOLE_LINE_RULES = (
    ("page-word", _PAGE_WORD),
    ("share", _SHARE),
    ("advert", _ADVERT),
    ("consent", _CONSENT_BUTTON),
    ("counter", _COUNTER),
    ("reading-time", _READING_TIME),
    ("timestamp", _TIMESTAMP),
    ("site-links", _SITE_LINKS),
)


def _piece_rule(piece: str) -> str | None:
    """The whole-line rule that ``piece`` (a line, or a part of one between ``|``) matches in full."""
    if _SEPARATOR.fullmatch(piece):
        return "separator"
    for rule, pattern in _WHOLE_LINE_RULES:
        if pattern.fullmatch(piece):
            return rule
    if _BYLINE.fullmatch(piece) and not piece.endswith("."):
        return "byline"
    if _is_breadcrumb(piece):
        return "breadcrumb"
    return None


def line_rule(line: str) -> str | None:
    """The rule that makes one line boilerplate on its own, or ``None`` for content.

    >>> line_rule("|"), line_rule("Print"), line_rule("by Outside Contributor"), line_rule("Kim spoke.")
    ('separator', 'page-word', 'byline', None)
    >>> line_rule("Share on X"), line_rule("4 min read · Updated 3 hours ago"), line_rule("Follow us on X")
    ('share', 'reading-time', 'follow')
    >>> line_rule("The ministry said it would share intelligence with allies.") is None
    True
    """
    if rule := _piece_rule(line):
        return rule
    pieces = [piece for piece in _PIECES.split(line) if piece]
    if len(pieces) > 1 and all(rules := [_piece_rule(piece) for piece in pieces]):
        return rules[0]
    if _FOOTER.fullmatch(line):
        return "footer"
    if len(line) > MAX_NOTICE_CHARS:
        return None
    if re.search(r"you can read the original article at", line, re.IGNORECASE):
        return "footer"
    return next((rule for pattern, rule in _SHORT_LINE_RULES if pattern.search(line)), None)


# Phrases only a publisher writes, looked for in lines of at most MAX_NOTICE_CHARS, in this order.
_SHORT_LINE_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (_COPYRIGHT, "copyright"),
    (_FOLLOW, "follow"),
    (_RELATED, "related"),
    (_PHOTO, "photo-credit"),
    (_AGENCY_CREDIT, "photo-credit"),
    (_CONSENT, "consent"),
    (_SUBSCRIPTION, "subscription"),
    (_NOTICE, "notice"),
)


def boilerplate(text: str, title: str | None = None) -> list[Removed]:
    """Every boilerplate line of ``text``, in order. A line that is the ``title`` is skipped too:
    the title is metadata, shown with every citation, not a sentence to answer with."""
    removed: list[Removed] = []
    seen: set[str] = set()
    lines = _lines(text)
    i = 0
    while i < len(lines):
        start, end = lines[i]
        line = text[start:end]
        key = _normalise(line)
        rule = line_rule(line)
        if rule is None and title and key == _normalise(title):
            rule = "title"
        if rule is None and key in seen and len(key) > 15:
            rule = "repeat"
        if (
            rule is None
            and len(line) <= MAX_HEADING_CHARS
            and not line.endswith(".")
            and _LINK_LIST_HEADING.fullmatch(line)
        ):
            # The heading and the list under it, up to the first line of prose.
            j = i + 1
            while j < len(lines) and _is_list_item(text[lines[j][0] : lines[j][1]]):
                j += 1
            if j > i + 1 or j == len(lines):
                removed.append(Removed(start, lines[j - 1][1], "link-list"))
                i = j
                continue
        if rule is not None:
            removed.append(Removed(start, end, rule))
        seen.add(key)
        i += 1
    return removed


KEYWORDS = 5  # how many of a document's most frequent content words keyword_share looks at


def keyword_share(text: str, regions: list[tuple[int, int]]) -> float:
    """How much of the kept text of ``text`` its ``KEYWORDS`` most frequent content words take up
    beyond their first use: their repeats, as a share of all its content words (stemmed, stop
    words dropped: ``core.lexical.terms``). Articles measure 0.05-0.15 (the seeds, the SQuAD
    articles, 5 MB of recombined seed sentences); a page stuffed with a question's words 0.9; a
    short text with no word repeated, 0.

    >>> keyword_share("Troops reported. Troops reported troops, troops reported!", [(0, 57)])
    0.7142857142857143
    >>> keyword_share("North Korean engineers repaired the bridge at Sudzha.", [(0, 53)])
    0.0
    """
    from collections import Counter

    from core.lexical import terms

    words = [word for start, end in regions for word in terms(text[start:end])]
    repeats = sum(count - 1 for _, count in Counter(words).most_common(KEYWORDS))
    return repeats / len(words) if words else 0.0


def kept_regions(text: str, title: str | None = None) -> list[tuple[int, int]]:
    """Maximal runs of content lines with no boilerplate between them, as ``(start, end)``."""
    removed = boilerplate(text, title)  # in order, never overlapping: walked once beside the lines
    regions: list[tuple[int, int]] = []
    current: tuple[int, int] | None = None
    cut = 0
    for start, end in _lines(text):
        while cut < len(removed) and removed[cut].end <= start:
            cut += 1
        if cut < len(removed) and removed[cut].start <= start:
            if current is not None:
                regions.append(current)
            current = None
        else:
            current = (current[0], end) if current is not None else (start, end)
    if current is not None:
        regions.append(current)
    return regions

"""Remove personal data from text before it leaves for an LLM.

`redact` replaces Slack user mentions and ids, email addresses, payment card numbers and
phone numbers with placeholders (`[user]`, `[email]`, `[card]`, `[phone]`). It errs on the
side of redacting: a ten-digit number that may be an order id but is shaped like a phone
number goes too. Dates, times, versions, IP addresses and short order numbers stay.
"""

from __future__ import annotations

import re

__all__ = ["redact"]

# Slack escapes mentions as <@U123ABC> or <@U123ABC|name>; W ids are Enterprise Grid users.
_MENTION = re.compile(r"<@[UW][A-Z0-9]{2,}(?:\|[^>]*)?>")

# Slack turns typed addresses into links, <mailto:a@b.com|a@b.com> and <tel:5551234|555-1234>;
# the whole link goes, so a label cannot keep half of it.
_MAILTO_LINK = re.compile(r"<mailto:[^>]*>", re.IGNORECASE)
_TEL_LINK = re.compile(r"<tel:[^>]*>", re.IGNORECASE)

# RFC 5322 "atext" plus dots for the local part. The lookbehind makes a match start only at
# the beginning of a run of such characters: without it a long run with no "@" would be
# rescanned from every position (quadratic on hostile input).
_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"(?<![{_ATEXT}])[{_ATEXT}]+@(?:{_LABEL}\.)+{_LABEL}", re.ASCII)

# Card numbers as people write them: 13-19 digits in one run, or groups of four separated by
# spaces or dashes (Amex's 4-6-5 too). Only Luhn-valid numbers are redacted.
_CARD = re.compile(
    r"(?<![\d+])"
    r"(?:\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,4})?|\d{4}[ -]\d{6}[ -]\d{5}|\d{13,19})"
    r"(?![\d])",
    re.ASCII,
)
_CARD_GROUP_SEPARATOR = re.compile(r"[ -]")

# Phone numbers: international (+44 20 7946 0958, 0049 30 1234567), North American
# ((555) 123-4567, 1-800-555-0199), European national (030 1234567, 06 12 34 56 78) and
# local seven-digit (555-1234) forms. A candidate may not continue a word, a dotted or
# dashed number (version, IP, date) or a time, which is what the lookarounds enforce.
_PHONE = re.compile(
    r"""
    (?<![\w./+-])(?<!\d:)
    (?:
        (?:\+|\b00)\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}
      | (?:1[ .-]?)?\(?[2-9]\d{2}\)?[ .-]?\d{3}[ .-]?\d{4}
      | 0\d{1,4}(?:[ ./-]?\d{2,4}){2,5}
      | \d{3}[ .-]\d{4}
    )
    (?![\w]|[./:-]\d)
    """,
    re.ASCII | re.VERBOSE,
)
_DATE = re.compile(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}[./-]\d{1,2}[./-]\d{1,2}", re.ASCII)
_NON_DIGIT = re.compile(r"\D", re.ASCII)

# Bare ids as they appear in copied links or logs (U0123ABCD). Requiring a digit keeps
# shouted words such as "UNDERSTOOD" or "WEDNESDAY".
_USER_ID = re.compile(r"\b[UW](?=[A-Z0-9]*\d)[A-Z0-9]{6,12}\b", re.ASCII)


def redact(text: str) -> str:
    """Return `text` with user ids, emails, card numbers and phone numbers replaced.

    Idempotent: redacting twice gives the same text as redacting once.
    """
    # One pass can expose a neighbour that a lookaround hid ("…4567-555-1234"), so repeat
    # until nothing changes. This ends: every change removes a digit or an "@", and the
    # placeholders contain neither.
    previous = None
    while text != previous:
        previous, text = text, _redact_once(text)
    return text


def _redact_once(text: str) -> str:
    # Mentions first: "<@U1|bob@example.com>" should become [user], not "<@[email]>".
    text = _MENTION.sub("[user]", text)
    text = _MAILTO_LINK.sub("[email]", text)
    text = _TEL_LINK.sub("[phone]", text)
    text = _EMAIL.sub("[email]", text)
    # Cards before phones, or a phone pattern would take a bite out of a card number.
    text = _CARD.sub(_replace_card, text)
    text = _PHONE.sub(_replace_phone, text)
    return _USER_ID.sub("[user]", text)


def _replace_card(match: re.Match[str]) -> str:
    candidate = match.group()
    groups = _CARD_GROUP_SEPARATOR.split(candidate)
    separators = _CARD_GROUP_SEPARATOR.findall(candidate)
    # Grouped digits may run into a neighbouring number ("4111 1111 1111 1111 22"): look for
    # the longest run of whole groups that is a card.
    spans = sorted(
        ((start, end) for start in range(len(groups)) for end in range(start + 1, len(groups) + 1)),
        key=lambda span: span[0] - span[1],
    )
    for start, end in spans:
        digits = "".join(groups[start:end])
        if 13 <= len(digits) <= 19 and _luhn_valid(digits):
            before = "".join(g + s for g, s in zip(groups[:start], separators[:start]))
            after = "".join(s + g for s, g in zip(separators[end - 1 :], groups[end:]))
            return f"{before}[card]{after}"
    return candidate


def _luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _replace_phone(match: re.Match[str]) -> str:
    candidate = match.group()
    digit_count = len(_NON_DIGIT.sub("", candidate))
    # E.164 numbers have at most 15 digits; fewer than 7 is an order number or a count.
    if not 7 <= digit_count <= 15 or _DATE.fullmatch(candidate):
        return candidate
    return "[phone]"

"""Remove personal data from text before it leaves for an LLM.

`redact` replaces Slack user, channel and user-group mentions and ids, email addresses,
IBANs, payment card numbers and phone numbers with placeholders (`[user]`, `[channel]`,
`[group]`, `[email]`, `[iban]`, `[card]`, `[phone]`). Card numbers must pass the Luhn check
and IBANs the ISO 13616 mod-97 check, so an order number shaped like one stays. Digit groups
may be separated by spaces, no-break spaces, dots or dashes; e-mail addresses may have
internationalised local parts and domains (`jane@例え.jp`, `用户@例子。广告`). Invisible
characters (zero-width spaces and joiners, soft hyphens) are dropped first, so they cannot
split an address. It errs on the side of redacting phones: a ten-digit number that may be
an order id but is shaped like a phone number goes too. Dates, times, versions, IP
addresses and short order numbers stay. Slack's broadcast mentions (`<!here>`,
`<!channel>`, `<!everyone>`) name nobody and stay.

`redact_for_words` takes the same data out with no placeholder, for text mined for words.
"""

from __future__ import annotations

import re

__all__ = ["redact", "redact_for_words"]

# Slack escapes mentions as <@U123ABC> or <@U123ABC|name>; W ids are Enterprise Grid users.
_MENTION = re.compile(r"<@[UW][A-Z0-9]{2,}(?:\|[^>]*)?>")
# Channels as <#C123ABC> or <#C123ABC|general> (G: private channels of old, D: DMs), user
# groups as <!subteam^S123ABC> or <!subteam^S123ABC|@support>. A channel's name can say
# who it is about (#deal-acme-jane), so the label goes with the id.
_CHANNEL_MENTION = re.compile(r"<#[CGD][A-Z0-9]{2,}(?:\|[^>]*)?>")
_GROUP_MENTION = re.compile(r"<!subteam\^[A-Z0-9]{2,}(?:\|[^>]*)?>")

# Slack turns typed addresses into links, <mailto:a@b.com|a@b.com> and <tel:5551234|555-1234>;
# the whole link goes, so a label cannot keep half of it.
_MAILTO_LINK = re.compile(r"<mailto:[^>]*>", re.IGNORECASE)
_TEL_LINK = re.compile(r"<tel:[^>]*>", re.IGNORECASE)

# Zero-width spaces, joiners and the soft hyphen show nothing but would cut a pattern.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")

# RFC 5322 "atext" plus dots for the local part, with the letters and digits of any script
# (RFC 6531); domain labels of any script too (IDNA), separated by a full stop or the
# ideographic, full-width or half-width one that IDNA reads as a dot; the full-width at
# sign of CJK keyboards as well as "@". The lookbehind makes a match start only at the
# beginning of a run of such characters: without it a long run with no "@" would be
# rescanned from every position (quadratic on hostile input).
_ATEXT = r"\w!#$%&'*+/=?^`{|}~.\-"
_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_EMAIL = re.compile(rf"(?<![{_ATEXT}])[{_ATEXT}]+[@\uff20](?:{_LABEL}[.\u3002\uff0e\uff61])+{_LABEL}")

# What people put between groups of digits: spaces (no-break and thin ones too, which
# word processors and some locales insert), dots and dashes.
_GROUP_SEPARATORS = r" \u00a0\u2009\u202f.\-"

# Card numbers as people write them: 13-19 digits in one run, or groups of four separated by
# `_GROUP_SEPARATORS` (Amex's 4-6-5 too). Only Luhn-valid numbers are redacted.
_CARD = re.compile(
    r"(?<![\d+])"
    rf"(?:\d{{4}}(?:[{_GROUP_SEPARATORS}]\d{{4}}){{2,3}}(?:[{_GROUP_SEPARATORS}]\d{{1,4}})?"
    rf"|\d{{4}}[{_GROUP_SEPARATORS}]\d{{6}}[{_GROUP_SEPARATORS}]\d{{5}}|\d{{13,19}})"
    r"(?![\d])",
    re.ASCII,
)
_CARD_GROUP_SEPARATOR = re.compile(rf"[{_GROUP_SEPARATORS}]")

# Phone numbers: international (+44 20 7946 0958, 0049 30 1234567), North American
# ((555) 123-4567, 1-800-555-0199), European national (030 1234567, 06 12 34 56 78) and
# local seven-digit (555-1234) forms. A candidate may not continue a word, a dotted or
# dashed number (version, IP, date) or a time, which is what the lookarounds enforce.
_PHONE = re.compile(
    r"""
    (?<![\w./+-])(?<!\d:)
    (?:
        (?:\+|\b00)\d{1,3}(?:[ .\u00a0\u2009\u202f-]?\(?\d{1,4}\)?){2,5}
      | (?:1[ .\u00a0\u2009\u202f-]?)?\(?[2-9]\d{2}\)?[ .\u00a0\u2009\u202f-]?\d{3}[ .\u00a0\u2009\u202f-]?\d{4}
      | 0\d{1,4}(?:[ ./\u00a0\u2009\u202f-]?\d{2,4}){2,5}
      | \d{3}[ .\u00a0\u2009\u202f-]\d{4}
    )
    (?![\w]|[./:-]\d)
    """,
    re.ASCII | re.VERBOSE,
)
_DATE = re.compile(r"\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}[./-]\d{1,2}[./-]\d{1,2}", re.ASCII)
_NON_DIGIT = re.compile(r"\D", re.ASCII)
_PHONE_SEPARATOR = re.compile(r"[ .\u00a0\u2009\u202f-]")

# Bare ids as they appear in copied links or logs (U0123ABCD). Requiring a digit keeps
# shouted words such as "UNDERSTOOD" or "WEDNESDAY".
_USER_ID = re.compile(r"\b[UW](?=[A-Z0-9]*\d)[A-Z0-9]{6,12}\b", re.ASCII)
# Channel and group ids are matched only with a digit second (C0123ABCD), as Slack issues
# them: product codes such as "CODE1234" or "DEMO2024" stay.
_CHANNEL_ID = re.compile(r"\b[CGD]\d[A-Z0-9]{7,10}\b", re.ASCII)
_GROUP_ID = re.compile(r"\bS\d[A-Z0-9]{7,10}\b", re.ASCII)

# IBANs: a country code, two check digits and 11-30 letters or digits, in one run or in
# groups of four separated by one of `_GROUP_SEPARATORS` (the printed form has spaces),
# upper or lower case. A grouped candidate may run into a following short number
# ("... 0130 00 12"); the longest run of whole groups that passes the mod-97 check is the
# IBAN (`_replace_iban`).
_IBAN = re.compile(
    rf"\b[A-Z]{{2}}\d{{2}}(?:[A-Z0-9]{{11,30}}|(?:[{_GROUP_SEPARATORS}][A-Z0-9]{{4}}){{2,7}}"
    rf"(?:[{_GROUP_SEPARATORS}][A-Z0-9]{{1,4}})?)\b",
    re.ASCII | re.IGNORECASE,
)
_IBAN_GROUPS = re.compile(r"[A-Z0-9]+", re.ASCII | re.IGNORECASE)


def redact(text: str) -> str:
    """Return `text` with user ids, emails, card numbers and phone numbers replaced.

    Idempotent: redacting twice gives the same text as redacting once.
    """
    # One pass can expose a neighbour that a lookaround hid ("…4567-555-1234"), so repeat
    # until nothing changes. This ends: every change removes a digit or an "@", and the
    # placeholders contain neither.
    text = _INVISIBLE.sub("", text)
    previous = None
    while text != previous:
        previous, text = text, _redact_once(text)
    return text


# Text can hold personal data with letters in it only where one of these is: an "@" (or
# "＠") for an e-mail, a "<" for a Slack mention or link, a letter beside a digit for an
# IBAN ("GB82") or a Slack id ("U0123ABCD"). Phone and card numbers hold no letter.
# Written to start only at a digit, "@" or "<": three times faster on prose.
_LETTERED_DATA = re.compile(r"[\d@\uff20<](?:(?<=[^\W\d_]\d)|(?=[^\W\d_])|(?<=[@\uff20<]))")
_PLACEHOLDER = re.compile(r"\[(?:user|channel|group|email|iban|card|phone)\]")


def redact_for_words(text: str) -> str:
    """`text` with the personal data `redact` finds taken out, leaving no placeholder: for
    text mined for words (the digest's theme keywords), where an e-mail's domain, a
    mention's name, an IBAN's bank code or a Slack id's letters must never become a word,
    nor "email" one because many items hold an address. Quick on text that cannot hold
    such data (`_LETTERED_DATA`), which it returns as it is."""
    if not _LETTERED_DATA.search(text):
        return text
    return _PLACEHOLDER.sub(" ", redact(text))


def _redact_once(text: str) -> str:
    # Mentions first: "<@U1|bob@example.com>" should become [user], not "<@[email]>".
    text = _MENTION.sub("[user]", text)
    text = _CHANNEL_MENTION.sub("[channel]", text)
    text = _GROUP_MENTION.sub("[group]", text)
    text = _MAILTO_LINK.sub("[email]", text)
    text = _TEL_LINK.sub("[phone]", text)
    text = _EMAIL.sub("[email]", text)
    # IBANs before cards and phones: their digits would otherwise look like either.
    text = _IBAN.sub(_replace_iban, text)
    # Cards before phones, or a phone pattern would take a bite out of a card number.
    text = _CARD.sub(_replace_card, text)
    text = _PHONE.sub(_replace_phone, text)
    text = _USER_ID.sub("[user]", text)
    text = _CHANNEL_ID.sub("[channel]", text)
    return _GROUP_ID.sub("[group]", text)


def _replace_iban(match: re.Match[str]) -> str:
    candidate = match.group()
    groups = _IBAN_GROUPS.findall(candidate)
    for end in range(len(groups), 0, -1):
        compact = "".join(groups[:end])
        if 15 <= len(compact) <= 34 and _iban_valid(compact):
            # Groups are separated by single characters, so the prefix ends here.
            return "[iban]" + candidate[len("".join(groups[:end])) + end - 1 :]
    return candidate


def _iban_valid(compact: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to 10-35, mod 97 is 1."""
    if not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    rearranged = (compact[4:] + compact[:4]).upper()
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


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
    if _DATE.fullmatch(candidate):
        return candidate
    digit_count = len(_NON_DIGIT.sub("", candidate))
    # E.164 numbers have at most 15 digits; fewer than 7 is an order number or a count.
    if 7 <= digit_count <= 15:
        return "[phone]"
    if digit_count > 15:
        # A phone followed by another number ("+1 200 555 0100 00000"): the longest head
        # that ends at a separator and is phone-sized is the phone; the rest stays.
        for cut in reversed([m.start() for m in _PHONE_SEPARATOR.finditer(candidate)]):
            head = candidate[:cut]
            if 7 <= len(_NON_DIGIT.sub("", head)) <= 15 and not _DATE.fullmatch(head):
                return "[phone]" + candidate[cut:]
    return candidate

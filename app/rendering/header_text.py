"""Text that can reach a mail header: the characters that could start a new header line are
refused where the text enters and replaced when a header is built, so no stored value can
ever add a line (Python's email package treats VT, FF, FS…RS, NEL, U+2028 and U+2029 as line
breaks too, and a header line such as "Name : value" is still read by many MTAs)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

# C0 controls (TAB included: a header value never needs one), DEL, C1, line/paragraph separators.
LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def header_safe(value: str) -> str:
    """The value with each run of line-breaking or control characters replaced by a space."""
    return LINE_BREAKING.sub(" ", value)


def _refuse_control_characters(value: str) -> str:
    if LINE_BREAKING.search(value):
        raise ValueError("must not contain line breaks, tabs or other control characters")
    return value


# A str field that may end up in a header (names, subjects): 422 naming the field otherwise.
HeaderText = Annotated[str, AfterValidator(_refuse_control_characters)]

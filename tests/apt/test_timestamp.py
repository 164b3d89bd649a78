"""is_timestamp gives strptime's answers without importing _strptime."""

from __future__ import annotations

import datetime
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinner.apt.sources import is_timestamp


def _strptime_says(value: str) -> bool:
    """The definition is_timestamp had: the pattern, then strptime, then 1970 on."""
    import re

    if not re.match(r"^\d{8}T\d{6}Z$", value):
        return False
    try:
        return datetime.datetime.strptime(value, "%Y%m%dT%H%M%SZ").year >= 1970
    except ValueError:
        return False


EDGES = [
    "20250230T000000Z",  # no such day
    "20240229T120000Z",  # leap day
    "20230229T120000Z",
    "19691231T235959Z",  # before 1970
    "19700101T000000Z",
    "20241231T235960Z",  # strptime's pattern takes 60 and 61 seconds, datetime does not
    "20241231T235961Z",
    "20241231T240000Z",
    "20241301T000000Z",
    "20240001T000000Z",
    "20240100T000000Z",
    "00000101T000000Z",
    "99991231T235959Z",
    "20240101T000000Z\n",  # `$` allows a final newline, strptime does not
    "20240101T000000z",
    # Unicode digits: strptime's day pattern takes one in the second place, not in the first.
    "2024010\u0665T000000Z",
    "202401\u0661\u0665T000000Z",
    "\u0662\u0660\u0662\u06640101T000000Z",
]


@pytest.mark.parametrize("value", EDGES)
def test_edges_as_strptime(value: str) -> None:
    assert is_timestamp(value) == _strptime_says(value)


_DIGITS = st.sampled_from("0123456789" * 4 + "\u0660\u0661\u0662\u0665\u0669\uff10\uff11")


@settings(max_examples=300)
@given(st.lists(_DIGITS, min_size=8, max_size=8), st.lists(_DIGITS, min_size=6, max_size=6))
def test_any_digits_as_strptime(date: list[str], time: list[str]) -> None:
    value = f"{''.join(date)}T{''.join(time)}Z"
    assert is_timestamp(value) == _strptime_says(value)


@settings(max_examples=200)
@given(st.datetimes(datetime.datetime(1, 1, 1), datetime.datetime(9999, 12, 31)))
def test_real_times(moment: datetime.datetime) -> None:
    value = moment.strftime("%Y%m%dT%H%M%SZ") if moment.year >= 1000 else ""
    assert is_timestamp(value) == _strptime_says(value)


def test_no_strptime_import() -> None:
    code = (
        "import sys; from pinner.apt.sources import is_timestamp;"
        "assert is_timestamp('20240101T000000Z'); print('_strptime' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "False\n"

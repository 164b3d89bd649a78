"""The INI reader for dnf's files (.repo, dnf.conf, .module): configparser in linear time."""

from __future__ import annotations

import configparser
import re


class IniParser(configparser.ConfigParser):
    """configparser.ConfigParser whose option pattern does not backtrack.

    configparser's OPTCRE (`.*?`, then `\\s*` and a delimiter) retries every blank of a run that no
    `=` or `:` follows, so a line holding a long run takes time quadratic in its length (one 1 MiB
    line: hours). This pattern splits every line the same way: the option is the text before the
    first delimiter less the blanks that end it, then the delimiter and the value.
    """

    OPTCRE = re.compile(
        r"(?P<option>(?:[^=:\s]+|\s+(?=[^\s=:]))*+)\s*(?P<vi>[=:])\s*(?P<value>.*)$"
    )

"""Whether zypper weighs Recommends by default: zypp.conf, its drop-ins and zypper.conf."""

from __future__ import annotations

import pytest

from pinner.managers.zyppconf import recommends, wanted

ETC = "/etc/zypp/zypp.conf"
USR = "/usr/etc/zypp/zypp.conf"
USR_D = "/usr/etc/zypp/zypp.conf.d"
ETC_D = "/etc/zypp/zypp.conf.d"
ZYPPER = "/etc/zypp/zypper.conf"
ONLY = b"[main]\nsolver.onlyRequires = true\n"
BOTH = b"[main]\nsolver.onlyRequires = false\n"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        pytest.param({}, (True, None), id="libzypp-default"),
        pytest.param({ETC: ONLY}, (False, ETC), id="etc-true"),
        pytest.param({ETC: BOTH}, (True, ETC), id="etc-false"),
        pytest.param(
            {ETC: b"[main]\n# solver.onlyRequires = true\n"}, (True, None), id="commented"
        ),
        pytest.param(
            {ETC: b"[main]\nsolver.onlyRequires = maybe\n"}, (True, None), id="not-a-boolean"
        ),
        pytest.param(
            {ETC: b"[other]\nsolver.onlyRequires = true\n"}, (True, None), id="not-in-main"
        ),
        pytest.param({ETC: b"[main]\nsolver.onlyRequires=Yes\n"}, (False, ETC), id="yes"),
        pytest.param({USR: ONLY}, (False, USR), id="vendor-file"),
        # /etc/zypp/zypp.conf masks the vendor's file as a whole.
        pytest.param({ETC: b"[main]\n", USR: ONLY}, (True, None), id="etc-masks-usr"),
        # Tumbleweed's layout: the vendor's drop-in turns recommends off.
        pytest.param(
            {USR: b"[main]\n", f"{USR_D}/no-recommends.conf": ONLY},
            (False, f"{USR_D}/no-recommends.conf"),
            id="vendor-drop-in",
        ),
        pytest.param(
            {f"{USR_D}/no-recommends.conf": ONLY, f"{ETC_D}/no-recommends.conf": BOTH},
            (True, f"{ETC_D}/no-recommends.conf"),
            id="etc-drop-in-hides-usr",
        ),
        pytest.param(
            {f"{USR_D}/10-a.conf": ONLY, f"{ETC_D}/20-b.conf": BOTH},
            (True, f"{ETC_D}/20-b.conf"),
            id="later-drop-in-wins",
        ),
        pytest.param({f"{USR_D}/no-recommends.conf.rpmsave": ONLY}, (True, None), id="not-a-conf"),
        pytest.param({ETC: ONLY, f"{ETC_D}/x.conf": BOTH}, (True, f"{ETC_D}/x.conf"), id="drop-in"),
        # zypper.conf's installRecommends wins over zypp.conf, root's own over the system's.
        pytest.param(
            {ETC: ONLY, ZYPPER: b"[solver]\ninstallRecommends = yes\n"},
            (True, ZYPPER),
            id="zypper-conf-yes",
        ),
        pytest.param(
            {ZYPPER: b"[solver]\ninstallRecommends = no\n"}, (False, ZYPPER), id="zypper-conf-no"
        ),
        pytest.param(
            {ZYPPER: b"[solver]\n# installRecommends = no\n", ETC: ONLY},
            (False, ETC),
            id="zypper-conf-commented",
        ),
        pytest.param(
            {
                ZYPPER: b"[solver]\ninstallRecommends = no\n",
                "/root/.zypper.conf": b"[solver]\ninstallRecommends = true\n",
            },
            (True, "/root/.zypper.conf"),
            id="root-zypper-conf",
        ),
    ],
)
def test_recommends(files: dict[str, bytes], expected: tuple[bool, str | None]) -> None:
    assert recommends(files) == expected


CUSTOM = "/etc/zypp/build.conf"
NO = b"[solver]\ninstallRecommends = no\n"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # The named file stands in for zypper.conf and /root/.zypper.conf.
        pytest.param({CUSTOM: NO, ZYPPER: b"[solver]\ninstallRecommends = yes\n"}, (False, CUSTOM)),
        pytest.param({CUSTOM: b"[main]\n", ZYPPER: NO, "/root/.zypper.conf": NO}, (True, None)),
        # Without installRecommends in it, zypp.conf decides, as for zypper.conf.
        pytest.param({CUSTOM: b"[main]\n", ETC: ONLY}, (False, ETC)),
    ],
)
def test_recommends_with_a_config_file(
    files: dict[str, bytes], expected: tuple[bool, str | None]
) -> None:
    assert recommends(files, CUSTOM) == expected


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (CUSTOM, True),
        (ZYPPER, True),
        ("/root/.zypper.conf", True),
        (f"{USR_D}/no-recommends.conf", True),
        ("/etc/zypp/repos.d/oss.conf", False),
        ("/etc/zypp/build.conf.rpmsave", False),
        ("/tmp/build.conf", False),
    ],
)
def test_wanted(path: str, expected: bool) -> None:
    assert wanted(path) == expected

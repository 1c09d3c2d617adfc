"""The confirmation email as the subscribe form sends it, compared with a golden file."""

import pytest
from itsdangerous.timed import TimestampSigner

from tests.conftest import DATA
from tests.golden import assert_golden, mask_email
from tests.web.conftest import SENT, T0, MakeSite


def test_golden_eml(make_site: MakeSite, monkeypatch: pytest.MonkeyPatch) -> None:
    """The outbox's .eml for one request, compared with `tests/data/web/confirmation.eml`.

    Byte for byte but for the Message-ID, Date and MIME boundary, masked
    (`tests.golden.mask_email`). After a deliberate change to the email or its
    templates, write it again with `PAPERBOT_REGENERATE_GOLDEN=1 .venv/bin/pytest -k golden tests`
    and review the file's diff.
    """
    # The link's token carries the second it was signed, read by itsdangerous from the
    # real clock: stopped at the app's T0, the link is the same on every run.
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(T0.timestamp()))
    site = make_site()  # the file transport: the email is written to the outbox
    answer = site.subscribe(
        email="dee@lab.org",
        keywords="<b>GAN</b>\nFréchet distance",
        exclusions="survey",
        cadence="weekly",
        channels="markdown email",
        timezone="Asia/Tokyo",
    )
    assert SENT in answer
    [eml] = list(site.settings.outbox_dir.glob("*.eml"))
    assert_golden(mask_email(eml.read_bytes()), DATA / "web" / "confirmation.eml")

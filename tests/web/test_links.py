"""Where the links in emails point, and the warning while `web.base_url` is unset."""

from pathlib import Path

import pytest

from bot.config import Settings, load_settings
from bot.web.links import listening_url, missing_base_url_warning, public_base_url


def settings_with(tmp_path: Path, **env: str) -> Settings:
    """The settings of the given PAPERBOT_* variables alone."""
    return load_settings(environ=env, cwd=tmp_path)


def test_without_a_base_url_the_warning_says_what_is_lost_and_what_to_set(
    tmp_path: Path,
) -> None:
    warning = missing_base_url_warning(settings_with(tmp_path))
    assert warning is not None and "\n" not in warning
    assert warning.startswith("web.base_url is not set: ")
    assert "no manage or unsubscribe link and no List-Unsubscribe header" in warning
    assert "confirmation emails link to http://127.0.0.1:8080" in warning
    assert "set web.base_url (or PAPERBOT_WEB_BASE_URL)" in warning


def test_the_warning_names_the_address_confirmation_links_fall_back_to(tmp_path: Path) -> None:
    everywhere = settings_with(tmp_path, PAPERBOT_WEB_HOST="0.0.0.0", PAPERBOT_WEB_PORT="9000")
    assert "link to http://localhost:9000;" in (missing_base_url_warning(everywhere) or "")
    ipv6 = settings_with(tmp_path, PAPERBOT_WEB_HOST="::1")
    assert "link to http://[::1]:8080;" in (missing_base_url_warning(ipv6) or "")


def test_with_an_unsubscribe_address_the_warning_says_the_header_is_mailto_only(
    tmp_path: Path,
) -> None:
    settings = settings_with(tmp_path, PAPERBOT_DELIVERY_UNSUBSCRIBE_MAILTO="leave@lab.org")
    warning = missing_base_url_warning(settings) or ""
    assert "List-Unsubscribe header holds only delivery.unsubscribe_mailto" in warning
    assert "no List-Unsubscribe header" not in warning


@pytest.mark.parametrize("base_url", ["https://papers.example.org", "http://127.0.0.1:8080/"])
def test_a_base_url_silences_the_warning_and_is_where_links_point(
    tmp_path: Path, base_url: str
) -> None:
    settings = settings_with(tmp_path, PAPERBOT_WEB_BASE_URL=base_url)
    assert missing_base_url_warning(settings) is None
    assert public_base_url(settings.web) == base_url.rstrip("/")


def test_a_base_url_of_a_slash_alone_counts_as_unset(tmp_path: Path) -> None:
    # Delivery strips the trailing slash too, and then puts no link in digests.
    settings = settings_with(tmp_path, PAPERBOT_WEB_BASE_URL="/")
    assert missing_base_url_warning(settings) is not None
    assert public_base_url(settings.web) == listening_url(settings.web)

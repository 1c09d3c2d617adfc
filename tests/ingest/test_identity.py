from bot.ingest.identity import arxiv_id_from_text, arxiv_id_from_url, title_key


def test_title_key_ignores_case_spacing_punctuation_and_accents() -> None:
    assert title_key("FRESA:Feedforward Reconstruction") == title_key(
        "fresa: feed-forward reconstruction"
    )
    assert title_key("Fréchet Net") == title_key("Frechet net")


def test_title_key_keeps_digits_and_other_scripts() -> None:
    assert title_key("GPT-4 Report") != title_key("GPT-3 Report")
    assert title_key("深度学习") == "深度学习"


def test_arxiv_ids_lose_their_version() -> None:
    assert arxiv_id_from_text("arXiv:2409.01234v1 Announce Type: new") == "2409.01234"
    assert arxiv_id_from_url("http://arxiv.org/abs/2409.01234v3") == "2409.01234"
    assert arxiv_id_from_url("https://arxiv.org/pdf/2409.01234") == "2409.01234"


def test_old_style_arxiv_ids() -> None:
    assert arxiv_id_from_url("http://arxiv.org/abs/hep-th/9901001v2") == "hep-th/9901001"
    assert arxiv_id_from_text("see arXiv:math.GT/0309136") == "math.GT/0309136"


def test_no_arxiv_id() -> None:
    assert arxiv_id_from_url("https://example.org/paper/2409") is None
    assert arxiv_id_from_text("a version 12.3 release") is None

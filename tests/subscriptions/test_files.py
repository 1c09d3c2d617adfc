import csv
import io
import re

import pytest

from bot.errors import InputError
from bot.ingest.identity import title_key
from bot.subscriptions.files import read_csv, read_toml, write_csv, write_toml
from bot.subscriptions.spec import SubscriptionSpec, make_spec

SPECS = [
    make_spec(
        "a@lab.org", ["graph neural network"], ["link prediction"], name="graphs", cadence="weekly"
    ),
    make_spec("a@lab.org", ['"attention"', "LoRA"], name='efficient, "fast" models'),
    make_spec("b@lab.org", ["self-supervised", "diffusion models"], channels=["markdown"]),
    make_spec("c@lab.org", ["MoE"], cadence="weekly", timezone="America/New_York"),
    make_spec(
        "d@lab.org", [], name="people", authors=["Y. LeCun", "Jürgen Schmidhuber"],
        organisations=["stabilityai"], categories=["cs.*"], exclude_authors=["Y. Li"],
        exclude_organisations=["Google DeepMind"], exclude_categories=["cs.CR", "stat.ML"],
        min_upvotes=20, top=3,
    ),
    make_spec("e@lab.org", [], name="trending", top=5),
    make_spec(
        "f@lab.org", [], name="by example", liked=["2401.00001", "Sparse Autoencoders"],
        unliked=["Top Quark Tagging"], level=-2,
    ),
    make_spec("f@lab.org", ["grokking"], name="kept level", liked=["2401.00002"]),
]  # fmt: skip


def test_csv_round_trips() -> None:
    assert read_csv(write_csv(SPECS)) == SPECS


def test_toml_round_trips() -> None:
    assert read_toml(write_toml(SPECS)) == SPECS


def test_a_minimal_csv_needs_only_email_and_keywords() -> None:
    [spec] = read_csv("email,keywords\nc@lab.org,GAN; MoE\n")
    assert (spec.email, spec.keywords, spec.name, spec.cadence) == (
        "c@lab.org",
        ("GAN", "MoE"),
        "default",
        None,
    )


def test_a_bad_row_is_named() -> None:
    with pytest.raises(InputError, match="row 3: invalid email address 'nope'"):
        read_csv("email,keywords\na@lab.org,GAN\nnope,GAN\n")
    with pytest.raises(InputError, match="row 2: at least one keyword"):
        read_csv("email,keywords\na@lab.org,\n")
    with pytest.raises(InputError, match="unknown column"):
        read_csv("email,keywords,colour\na@lab.org,GAN,red\n")
    with pytest.raises(InputError, match="lacks the column"):
        read_csv("address,keywords\na@lab.org,GAN\n")


def test_a_bad_toml_table_is_named() -> None:
    with pytest.raises(InputError, match="subscription 2: keywords must be a list of strings"):
        read_toml(
            '[[subscription]]\nemail="a@lab.org"\nkeywords=["x"]\n[[subscription]]\nemail="b@lab.org"\nkeywords="x"\n'
        )
    with pytest.raises(InputError, match="subscription 1: unknown key"):
        read_toml('[[subscription]]\nemail="a@lab.org"\nkeywords=["x"]\nkeyword=["y"]\n')
    with pytest.raises(InputError, match="not valid TOML"):
        read_toml("[[subscription]\n")


def test_the_time_zone_is_a_column_and_a_key() -> None:
    assert ",channels,timezone," in write_csv(SPECS).splitlines()[0]
    assert "c@lab.org,default,MoE,,weekly,,America/New_York," in write_csv(SPECS)
    assert 'timezone = "America/New_York"' in write_toml(SPECS)
    assert "timezone" not in write_toml(SPECS[:3])  # not set: the key is left out
    [spec] = read_csv("email,keywords,timezone\nc@lab.org,GAN,asia/tokyo\n")
    assert spec.timezone == "Asia/Tokyo"


def test_files_written_before_the_time_zone_column_still_read() -> None:
    [spec] = read_csv(
        "email,name,keywords,exclusions,cadence,format\nana@lab.org,graphs,GNN,,weekly,email\n"
    )
    assert (spec.cadence, spec.timezone) == ("weekly", None)
    [spec] = read_toml('[[subscription]]\nemail = "ana@lab.org"\nkeywords = ["GNN"]\n')
    assert spec.timezone is None


def test_a_bad_time_zone_names_its_row() -> None:
    with pytest.raises(InputError, match="row 2: unknown time zone 'Mars/Olympus'"):
        read_csv("email,keywords,timezone\na@lab.org,GAN,Mars/Olympus\n")
    with pytest.raises(InputError, match="subscription 1: timezone must be a string"):
        read_toml('[[subscription]]\nemail = "a@lab.org"\nkeywords = ["x"]\ntimezone = 1\n')


# Values a spreadsheet would run as formulas, and values that look like the quoting
# that stops it: each must come back from a CSV round trip exactly as it went in.
AWKWARD_NAMES = [
    '=HYPERLINK("http://x","y")', "=1+1", "+1", "-x", "@home", "=", "-", "+-@=", "'", "''",
    "'=x", "''=x", "'tis", "'-x", "@'", "a'b", "a=b", '"=x"', ", =x", "ä=ö", "=" + "x" * 99,
]  # fmt: skip
AWKWARD_KEYWORDS = [
    '=HYPERLINK("http://x","y")', "=1+1", "+1", "-x", "@home", "'tis", "'=x", "''=x",
    "'-x", "a'b", '"=x"', "ä=ö", "-", "'",
]  # fmt: skip
AWKWARD_EMAILS = ["+x@lab.org", "-x@lab.org", "=x@lab.org", "'x@lab.org", "''=x@lab.org"]


def _awkward_specs() -> list[SubscriptionSpec]:
    specs = [make_spec("a@lab.org", ["GAN"], name=name) for name in AWKWARD_NAMES]
    for keyword in AWKWARD_KEYWORDS:
        for rest in ([], ["GAN"]):
            try:
                specs.append(make_spec("b@lab.org", [keyword, *rest], [keyword, *rest]))
            except InputError:
                continue  # no letter or digit: not a keyword, nothing to write
    specs += [make_spec(email, ["GAN"]) for email in AWKWARD_EMAILS]
    return specs


def test_awkward_values_round_trip_exactly_through_csv() -> None:
    specs = _awkward_specs()
    assert len(specs) > len(AWKWARD_NAMES) + len(AWKWARD_KEYWORDS)
    text = write_csv(specs)
    assert read_csv(text) == specs
    assert write_csv(read_csv(text)) == text


def test_no_exported_cell_starts_a_formula() -> None:
    rows = list(csv.reader(io.StringIO(write_csv(_awkward_specs()))))
    cells = [cell for row in rows[1:] for cell in row]
    assert cells and not [cell for cell in cells if cell.startswith(("=", "+", "-", "@"))]


def test_formula_cells_are_written_behind_one_quote() -> None:
    spec = make_spec(
        "ana@lab.org", ["+1", "-x", "@home"], ["'tis"], name='=HYPERLINK("http://x","y")'
    )
    [_, row] = list(csv.reader(io.StringIO(write_csv([spec]))))
    assert row[:4] == ["ana@lab.org", '\'=HYPERLINK("http://x","y")', "'+1;-x;@home", "''tis"]


def test_a_hand_written_leading_quote_is_kept_unless_it_quotes() -> None:
    [spec] = read_csv("email,name,keywords\na@lab.org,'graphs,'=x;'tis\n")
    assert (spec.name, spec.keywords) == ("'graphs", ("=x", "'tis"))


def test_an_oversized_csv_cell_is_one_error_naming_its_row() -> None:
    text = "email,keywords\na@lab.org,GAN\nb@lab.org," + "x" * 140_000 + "\n"
    with pytest.raises(InputError) as refused:
        read_csv(text)
    assert str(refused.value) == "row 3: not valid CSV: field larger than field limit (131072)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("email,keywords\na@lab.org,GAN\nb@lab.org,G\x00AN\n", "row 3: a cell contains"),
        (
            "email,keywords\na@lab.org,GAN\nb@lab.org,G\x07AN\n",
            "row 3: keyword 'G\\x07AN' contains",
        ),
        ('email,keywords\na@lab.org,"G\nAN"\n', "row 3: keyword 'G\\nAN' contains"),
        ("email,name,keywords\na@lab.org,x\u202ey,GAN\n", "row 2: topic name contains"),
    ],
    ids=["NUL", "BEL", "newline in a quoted cell", "right-to-left override"],
)
def test_a_control_character_in_a_csv_cell_is_refused_naming_its_row(
    text: str, message: str
) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        read_csv(text)


def test_a_control_character_in_toml_is_refused_naming_its_table() -> None:
    text = '[[subscription]]\nemail="a@lab.org"\nkeywords=["x"]\n'
    escaped = text + '[[subscription]]\nemail="b@lab.org"\nkeywords=["G\\u0000AN"]\n'
    with pytest.raises(InputError) as refused:
        read_toml(escaped)
    assert str(refused.value) == (
        "subscription 2: keyword 'G\\x00AN' contains a control character (U+0000)"
    )
    raw = text + '[[subscription]]\nemail="b@lab.org"\nkeywords=["G\x00AN"]\n'
    with pytest.raises(InputError, match=r"not valid TOML: .*line 6"):
        read_toml(raw)


def test_follows_are_columns_and_keys_and_need_no_keywords() -> None:
    header, *_ = write_csv(SPECS).splitlines()
    assert header.endswith(
        ",authors,organisations,categories,exclude_authors,exclude_organisations,"
        "exclude_categories,min_upvotes,top,liked,unliked,level"
    )
    assert (
        "d@lab.org,people,,,,,,Y. LeCun;Jürgen Schmidhuber,stabilityai,cs.*,Y. Li,"
        "Google DeepMind,cs.CR;stat.ML,20,3"
    ) in write_csv(SPECS)
    toml = write_toml(SPECS)
    assert 'authors = ["Y. LeCun", "Jürgen Schmidhuber"]\n' in toml
    assert "min_upvotes = 20\ntop = 3\n" in toml
    assert "top = 5\n" in toml
    assert "authors" not in write_toml(SPECS[:1])  # not followed: the key is left out
    [spec] = read_csv("email,authors,top\nf@lab.org,LeCun; Y. Li,2\n")
    assert (spec.keywords, spec.authors, spec.top) == ((), ("LeCun", "Y. Li"), 2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("email,categories\na@lab.org,cs/CL\n", "row 2: category 'cs/CL' is not an arXiv category"),
        ("email,authors\na@lab.org,42\n", "row 2: author '42' has no name in it"),
        ("email,top\na@lab.org,three\n", "row 2: top must be a whole number, not 'three'"),
        ("email,min_upvotes\na@lab.org,0\n", "row 2: minimum upvotes 0 is out of range"),
        ("email,exclude_authors\na@lab.org,Y. Li\n", "lacks a column that selects papers"),
        (
            "email,authors,keywords\na@lab.org,,\n",
            "row 2: at least one keyword, liked paper, author",
        ),
    ],
)
def test_a_bad_follow_in_a_csv_names_its_row(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_csv(text)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('top = "3"', "subscription 1: top must be a whole number"),
        ("top = true", "subscription 1: top must be a whole number"),
        ('organisations = "x"', "subscription 1: organisations must be a list of strings"),
        ('exclude_categories = ["cs"]\ncategories = ["q-bio.*", "nope!"]', "category 'nope!'"),
    ],
)
def test_a_bad_follow_in_toml_names_its_table(table: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_toml(f'[[subscription]]\nemail = "a@lab.org"\n{table}\n')


def test_examples_and_level_are_columns_and_keys() -> None:
    csv_text = "email,liked,unliked,level\na@lab.org,2401.00001;Sparse Autoencoders,Top Quark,-1\n"
    toml_text = (
        '[[subscription]]\nemail = "a@lab.org"\nliked = ["2401.00001", "Sparse Autoencoders"]\n'
        'unliked = ["Top Quark"]\nlevel = -1\n'
    )
    for spec in (*read_csv(csv_text), *read_toml(toml_text)):
        assert [r.text for r in spec.liked] == ["2401.00001", "Sparse Autoencoders"]
        assert ([r.text for r in spec.unliked], spec.level, spec.keywords) == (
            ["Top Quark"],
            -1,
            (),
        )
    [kept] = read_csv("email,keywords,level\na@lab.org,GAN,\n")
    assert kept.level is None  # an empty level keeps the topic's


def test_a_title_holding_the_list_separator_is_written_so_it_still_names_the_paper() -> None:
    spec = make_spec("a@lab.org", [], liked=["Less is More; or Not", "2401.00001"])
    [read] = read_csv(write_csv([spec]))
    assert [r.text for r in read.liked] == ["Less is More, or Not", "2401.00001"]
    assert title_key(read.liked[0].title or "") == title_key("Less is More; or Not")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("email,liked,level\na@lab.org,2401.00001,many\n", "row 2: level must be a whole number, not 'many'"),
        ("email,liked,level\na@lab.org,2401.00001,4\n", "row 2: level 4 is out of range"),
        ("email,liked,unliked\na@lab.org,Grokking,grokking\n", "row 2: paper 'Grokking' is given as both"),
        ('[[subscription]]\nemail = "a@lab.org"\nliked = ["X"]\nlevel = "1"\n', "subscription 1: level must be a whole number"),
        ('[[subscription]]\nemail = "a@lab.org"\nliked = "X"\n', "subscription 1: liked must be a list of strings"),
    ],
)  # fmt: skip
def test_bad_examples_or_levels_name_their_row_or_table(text: str, message: str) -> None:
    read = read_toml if text.startswith("[[") else read_csv
    with pytest.raises(InputError, match=re.escape(message)):
        read(text)

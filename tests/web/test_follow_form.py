"""The follow fields of the web forms: names keep their commas, numbers are whole or said."""

from bot.web.follow_form import FollowFields, split_categories, split_names


def test_names_are_one_per_line_or_separated_by_semicolons_and_keep_commas() -> None:
    text = "LeCun, Yann\n  J.-B. Mouret ; University of California, Berkeley\n\n"
    assert split_names(text) == (
        "LeCun, Yann",
        "J.-B. Mouret",
        "University of California, Berkeley",
    )


def test_categories_are_separated_by_anything_that_is_not_one() -> None:
    assert split_categories(" cs.CL, cs.*\nstat.ML;hep-th ") == (
        "cs.CL",
        "cs.*",
        "stat.ML",
        "hep-th",
    )


def test_the_fields_give_make_spec_arguments_and_say_what_is_no_number() -> None:
    fields = FollowFields.from_fields(
        {"new-authors": "Y. LeCun", "new-top": " 3 ", "new-min_upvotes": "٣", "new-categories": 7},
        "new-",
    )
    arguments, problems = fields.arguments()
    assert arguments["authors"] == ("Y. LeCun",) and arguments["categories"] == ()
    assert (arguments["top"], arguments["min_upvotes"]) == (3, None)
    assert problems == ["minimum upvotes '٣' is not a whole number"]
    assert fields.given and not FollowFields(top="  ").given


def test_stored_follows_fill_the_fields_back() -> None:
    follows = {
        "authors": ("LeCun, Yann", "R. Wang"), "organisations": (), "categories": ("cs.*",),
        "exclude_authors": (), "exclude_organisations": ("google",), "exclude_categories": (),
        "min_upvotes": None, "top": 5,
    }  # fmt: skip
    fields = FollowFields.from_follows(follows)
    assert (fields.authors, fields.categories, fields.top, fields.min_upvotes) == (
        "LeCun, Yann\nR. Wang", "cs.*", "5", "",
    )  # fmt: skip
    assert fields.arguments() == ({**follows, "authors": ("LeCun, Yann", "R. Wang")}, [])

"""A subscriber's own pages, reached by signed links: manage (with a live preview) and unsubscribe.

Every digest carries `<base>/manage/<token>` and `<base>/unsubscribe/<token>`
(`bot.delivery.run`). The tokens never expire, so links in old digests keep
working; a link is honoured only when its signature holds for its purpose and
the subscriber it names still exists with the same address (`bot.web.link_owners`).
The feedback links under each paper are `bot.web.feedback_pages`.

    GET  /manage/<token>       the form (topics, cadence, format, time zone) and a preview;
                               ?find=TEXT&topic=ID also lists stored papers whose title holds TEXT
    POST /manage/<token>       action=preview: the preview of the form as submitted, nothing saved
                               action=save: validated like the CLI (make_spec), saved, 303 back
                               action=example-add / example-remove: one example paper of one
                               of the subscriber's topics marked or unmarked, 303 back
                               action=new-feeds: new feed addresses, the old ones retired
                               (`bot.web.feed_pages`), 303 back
                               action=channel-add / channel-remove: one of the reader's own
                               Slack or Discord webhooks (`bot.web.channel_forms`), 303 back
    GET  /unsubscribe/<token>  one button; a GET never changes anything (link scanners follow links)
    POST /unsubscribe/<token>  List-Unsubscribe=One-Click (the button, or an RFC 8058 mail client)

The manage form is protected by the CSRF cookie and field of `bot.web.security`;
the one-click POST is not (mail providers send it without cookies), its signed
URL is the authority. Database work and matching run in a worker thread, never
on the event loop.
"""

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.db import write_session
from bot.errors import InputError
from bot.matching.facets import FOLLOW_FIELDS
from bot.matching.hints import KeywordHint
from bot.models import Paper, Subscriber, Subscription
from bot.similar_papers import stored_example_topics
from bot.subscriptions.channels import ChannelInfo, list_channels
from bot.subscriptions.examples import (
    ExamplePaper,
    examples_of,
    find_paper,
    mark_example,
    remove_example,
)
from bot.subscriptions.paper_search import MAX_QUERY, search_titles
from bot.subscriptions.spec import (
    BUILT_IN_CHANNELS,
    CADENCES,
    DEFAULT_TOPIC,
    MAX_LEVEL,
    SubscriptionSpec,
    check_paper,
    make_spec,
    selects,
    split_keywords,
)
from bot.subscriptions.store import SubscriberView, find_subscriber, subscribe, unsubscribe
from bot.tokens import LinkSubject
from bot.web.channel_forms import CHANNEL_ACTIONS, WEB_KINDS, change_channel
from bot.web.context import WebContext, web_context
from bot.web.feed_pages import feed_links, new_feed_addresses, opml_link
from bot.web.follow_form import FollowFields
from bot.web.link_owners import PRIVATE_HEADERS, bad_link_page, link_owner, link_subject, page_link
from bot.web.pages import error_page, page
from bot.web.preview import FormTopic, Preview, window_days
from bot.web.recent import recent_index
from bot.web.security import (
    CSRF_FIELD,
    BodyLimit,
    client_key,
    csrf_ok,
    csrf_token,
    set_csrf_cookie,
)

ONE_CLICK_FIELD = "List-Unsubscribe"
ONE_CLICK_VALUE = "One-Click"

MAX_FORM_BYTES = 1024 * 1024
"""The largest manage form read: ten topics of 100 keywords of 200 characters fit.

The web app's limit for every route (`bot.web.app`), so no other is needed here.
"""

MAX_ONE_CLICK_BYTES = 4096
"""The largest one-click body read: it is 26 bytes."""

# A topic's fields are numbered (topic-0-keywords...): an unticked checkbox sends
# nothing, so repeated names could not be paired up. Four digits is plenty and keeps
# int() away from absurd numbers.
_TOPIC_FIELD = re.compile(r"topic-(\d{1,4})-name")
# Ids of topics and papers in the example forms: digits only, short enough for int().
_ID = re.compile(r"\d{1,18}")
_LEVEL = re.compile(r"[+-]?\d{1,2}")

LEVELS = tuple(range(MAX_LEVEL, -MAX_LEVEL - 1, -1))
_LEVEL_LABELS = {3: "many more", 2: "more", 1: "a few more", 0: "as is", -1: "a few fewer",
                 -2: "fewer", -3: "far fewer"}  # fmt: skip
LEVEL_CHOICES = [
    (level, f"{level:+d}: {_LEVEL_LABELS[level]}" if level else "0: as is") for level in LEVELS
]
_SOURCE_LABELS = {
    "subscribe": "from subscribing",
    "import": "imported",
    "web": "added here",
    "feedback": "from a digest",
}

_CADENCE_LABELS = {"daily": "Daily", "weekly": "Weekly", "paused": "Paused (no digests for now)"}
_CHANNEL_LABELS = {"email": "Email", "markdown": "Markdown file on this server"}
_CHANNEL_FIELD = "channel-"  # one checkbox per channel: "channel-email", "channel-lab-slack"


# --- The form ------------------------------------------------------------------------


@dataclass(frozen=True)
class TopicFields:
    """One stored topic as its form fields hold it: keywords and exclusions one per line."""

    name: str
    keywords: str
    exclusions: str
    remove: bool = False
    follow: FollowFields = field(default_factory=FollowFields)
    level: str = "0"

    def form_topic(self) -> FormTopic:
        """The topic as the preview and the checks read it."""
        return _form_topic(self.name, self.keywords, self.exclusions, self.follow)


def _form_topic(name: str, keywords: str, exclusions: str, follow: FollowFields) -> FormTopic:
    arguments, problems = follow.arguments()
    return FormTopic(
        name, split_keywords(keywords), split_keywords(exclusions), arguments, tuple(problems)
    )


@dataclass(frozen=True)
class ManageForm:
    """Everything the manage form holds, as text: what is shown back, escaped, on errors."""

    topics: tuple[TopicFields, ...]
    new_name: str = ""
    new_keywords: str = ""
    new_exclusions: str = ""
    new_follow: FollowFields = field(default_factory=FollowFields)
    cadence: str = "daily"
    channels: tuple[str, ...] = ("email",)
    timezone: str = ""

    @classmethod
    def from_view(cls, view: SubscriberView) -> "ManageForm":
        """The form filled with what is stored."""
        topics = tuple(
            TopicFields(
                t.name, "\n".join(t.keywords), "\n".join(t.exclusions),
                follow=FollowFields.from_follows(t.follows), level=str(t.level),
            )
            for t in view.topics
        )  # fmt: skip
        return cls(
            topics, cadence=view.cadence, channels=view.channels, timezone=view.timezone or ""
        )

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> "ManageForm":
        """The form as submitted."""
        numbers = sorted(
            {int(found.group(1)) for key in fields if (found := _TOPIC_FIELD.fullmatch(key))}
        )
        topics = tuple(
            TopicFields(
                fields[f"topic-{n}-name"],
                fields.get(f"topic-{n}-keywords", ""),
                fields.get(f"topic-{n}-exclusions", ""),
                remove=bool(fields.get(f"topic-{n}-remove")),
                follow=FollowFields.from_fields(fields, f"topic-{n}-"),
                level=fields.get(f"topic-{n}-level", "0"),
            )
            for n in numbers
        )
        return cls(
            topics,
            new_name=fields.get("new-name", ""),
            new_keywords=fields.get("new-keywords", ""),
            new_exclusions=fields.get("new-exclusions", ""),
            new_follow=FollowFields.from_fields(fields, "new-"),
            cadence=fields.get("cadence", ""),
            channels=tuple(
                key.removeprefix(_CHANNEL_FIELD) for key in fields if key.startswith(_CHANNEL_FIELD)
            ),
            timezone=fields.get("timezone", ""),
        )

    @property
    def adds_topic(self) -> bool:
        """True when the new topic's fields select something: keywords, or a follow field."""
        return bool(split_keywords(self.new_keywords)) or self.new_follow.given

    def wanted_topics(self) -> list[FormTopic]:
        """The topics the form keeps or adds (the new one if it selects something)."""
        return [topic for topic, _ in self.wanted_levels()]

    def wanted_levels(self) -> list[tuple[FormTopic, str]]:
        """The topics the form keeps or adds, each with its "more / fewer" level as typed."""
        wanted = [(t.form_topic(), t.level) for t in self.topics if not t.remove]
        if self.adds_topic:
            new = _form_topic(
                self.new_name.strip() or DEFAULT_TOPIC,
                self.new_keywords,
                self.new_exclusions,
                self.new_follow,
            )
            wanted.append((new, "0"))
        return wanted


@dataclass(frozen=True)
class _Settings:
    """The subscriber-wide choices, validated; `timezone` None follows the site's."""

    cadence: str | None
    channels: tuple[str, ...] | None
    timezone: str | None


def validate(
    email: str, form: ManageForm, with_liked: Collection[str] = ()
) -> tuple[list[SubscriptionSpec], list[str]]:
    """The specs the form asks for (one per topic) and every error, with make_spec's rules.

    `with_liked` names the stored topics that have liked papers: those keep them
    (the specs name no examples, so stored ones are neither dropped nor looked up
    again) and need no keyword. Nothing is saved unless the error list is empty.
    """
    errors: list[str] = []
    settings = _validate_settings(email, form, errors)
    specs: list[SubscriptionSpec] = []
    if form.new_name.strip() and not form.adds_topic:
        errors.append(
            f"The new topic {form.new_name.strip()!r} needs at least one keyword, author,"
            " organisation or category, or a trending switch."
        )
    for topic, level_text in form.wanted_levels():
        level = _level(level_text)
        problems = [*topic.problems] + ([] if level is not None else [_level_problem(level_text)])
        if problems:
            errors += [f"Topic {topic.name!r}: {problem}." for problem in problems]
            continue
        assert level is not None  # a problem otherwise
        try:
            spec = make_spec(
                email, topic.keywords, topic.exclusions, name=topic.name,
                cadence=settings.cadence, channels=settings.channels, timezone=settings.timezone,
                level=level, keeps_liked=topic.name in with_liked, **topic.follows,
            )  # fmt: skip
        except InputError as exc:
            errors.append(f"Topic {topic.name!r}: {exc}.")
            continue
        if spec.name in (s.name for s in specs):  # the store's rule: names differ as typed
            errors.append(f"There is already a topic named {spec.name!r}: choose another name.")
            continue
        specs.append(spec)
    if not specs and not errors:
        errors.append(
            "Keep or add at least one topic. To stop the digests for a while, choose the"
            " cadence 'paused'; to stop them for good, unsubscribe."
        )
    return specs, errors


def _level(text: str) -> int | None:
    """A level as typed, as a number (its range is make_spec's to check); None if not one."""
    given = text.strip() or "0"
    return int(given) if _LEVEL.fullmatch(given) else None


def _level_problem(text: str) -> str:
    shown = text.strip() if len(text.strip()) <= 20 else text.strip()[:20] + "…"
    return f"level {shown!r} is not a whole number from -{MAX_LEVEL} to {MAX_LEVEL}"


def _validate_settings(email: str, form: ManageForm, errors: list[str]) -> _Settings:
    try:
        # make_spec is the one validation of every input; a known-good placeholder
        # keyword lets it judge the subscriber-wide choices on their own, so their
        # errors are reported once rather than under every topic.
        checked = make_spec(
            email, ("placeholder",), cadence=form.cadence.strip() or None,
            channels=form.channels, timezone=form.timezone.strip() or None,
        )  # fmt: skip
    except InputError as exc:
        message = str(exc)
        errors.append(message[:1].upper() + message[1:] + ".")
        return _Settings(None, None, None)
    return _Settings(checked.cadence, checked.channels, checked.timezone)


# --- Manage --------------------------------------------------------------------------


def _load_view(engine: Engine, subject: LinkSubject) -> SubscriberView | None:
    with Session(engine) as session:
        owner = link_owner(session, subject)
        return None if owner is None else find_subscriber(session, owner.email)


async def manage(request: Request) -> Response:
    """GET: the stored settings and their preview. POST: preview or save the submitted form."""
    context = web_context(request)
    # The signature is checked before anything else, so a forged link costs no body
    # parsing and no database work.
    subject = link_subject(context, "manage", request.path_params["token"])
    if subject is None:
        return bad_link_page(request)
    if request.method != "POST":
        return await run_in_threadpool(_show_stored, request, subject)
    async with request.form(max_files=0) as form:
        fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    return await run_in_threadpool(_submit, request, subject, fields)


def _show_stored(request: Request, subject: LinkSubject) -> Response:
    context = web_context(request)
    view = _load_view(context.engine, subject)
    if view is None:
        return bad_link_page(request)
    saved = request.query_params.get("saved") == "1"
    search = _search(context.engine, view, request.query_params)
    return _render(
        request, context, subject, view, ManageForm.from_view(view), saved=saved,
        examples_changed=request.query_params.get("examples") == "1", search=search,
        feeds_renewed=request.query_params.get("feeds") == "1",
        channels_changed=request.query_params.get("channels") == "1",
        status=400 if search is not None and search.problem else 200,
    )  # fmt: skip


def _submit(request: Request, subject: LinkSubject, fields: dict[str, str]) -> Response:
    context = web_context(request)
    view = _load_view(context.engine, subject)
    if view is None:
        return bad_link_page(request)
    if not csrf_ok(request, fields.get(CSRF_FIELD)):
        return error_page(
            request,
            "This form has expired",
            "Nothing was changed. Open the link from your digest again and resubmit the form.",
        )
    if fields.get("action") in EXAMPLE_ACTIONS:
        return _submit_example(request, context, subject, view, fields)
    if fields.get("action") == NEW_FEEDS_ACTION:
        return _submit_new_feeds(request, context, subject)
    if fields.get("action") in CHANNEL_ACTIONS:
        return _submit_channel(request, context, subject, view, fields)
    form = ManageForm.from_fields(fields)
    if fields.get("action") != "save":  # "preview", or Enter pressed somewhere: never a save
        return _render(request, context, subject, view, form)
    specs, errors = validate(view.email, form, {t.name for t in view.topics if t.liked})
    if errors:
        return _render(request, context, subject, view, form, errors=errors, status=400)
    try:
        saved = _save(context.engine, subject, specs, now=context.clock())
    except InputError as error:  # what only the store can tell: a channel that is not theirs
        message = str(error)
        errors = [message[:1].upper() + message[1:] + "."]
        return _render(request, context, subject, view, form, errors=errors, status=400)
    if not saved:
        return bad_link_page(request)  # the subscriber went away meanwhile
    # Relative: back to this very page, whatever address the visitor used to reach it.
    return RedirectResponse(f"{request.url.path}?saved=1", status_code=303, headers=PRIVATE_HEADERS)


def _save(
    engine: Engine, subject: LinkSubject, specs: list[SubscriptionSpec], *, now: datetime
) -> bool:
    """Store the form's topics and settings in one transaction; False if the owner is gone.

    The form is the whole wish: stored topics it does not hold are removed
    (after the others are stored, so the subscriber never passes through
    "no topics", which would unsubscribe them).
    """
    with write_session(engine) as session:
        owner = link_owner(session, subject)
        if owner is None:
            return False
        for spec in specs:
            subscribe(session, spec, now=now)
        view = find_subscriber(session, owner.email)
        assert view is not None  # just stored
        wanted = {spec.name for spec in specs}
        for topic in view.topics:
            if topic.name not in wanted:
                unsubscribe(session, owner.email, now=now, topic=topic.name)
        if not any(spec.timezone for spec in specs):
            # `subscribe` keeps the stored zone when given none (the CLI's "not given");
            # an emptied field here means "follow the site's zone", which the store has
            # no call for.
            owner.timezone = None
    return True


def _render(
    request: Request,
    context: WebContext,
    subject: LinkSubject,
    view: SubscriberView,
    form: ManageForm,
    *,
    saved: bool = False,
    examples_changed: bool = False,
    feeds_renewed: bool = False,
    channels_changed: bool = False,
    search: "Search | None" = None,
    errors: list[str] | None = None,
    channel_error: str | None = None,
    status: int = 200,
) -> Response:
    csrf = csrf_token(request)
    with Session(context.engine) as session:
        own_channels = list_channels(session, view.email)
    backlog = context.settings.delivery.backlog_days
    preview, hints = _preview(request, context, form, view)
    response = page(
        request,
        "manage.html",
        {
            "email": view.email,
            "unsubscribed": view.status != "active",
            "form": form,
            "cadences": [(name, _CADENCE_LABELS.get(name, name)) for name in CADENCES],
            "channel_choices": _channel_choices(own_channels, form),
            "own_channels": own_channels,
            "web_kinds": [(kind, service.label) for kind, service in WEB_KINDS.items()],
            "channels_changed": channels_changed,
            "channel_error": channel_error,
            "site_zone": context.settings.schedule.timezone,
            "csrf": csrf,
            "csrf_field": CSRF_FIELD,
            "saved": saved,
            "examples_changed": examples_changed,
            "cards": _example_cards(context.engine, view, search),
            "find_max": MAX_QUERY,
            "levels": LEVEL_CHOICES,
            "errors": errors or [],
            "preview": preview,
            "hints": hints,
            "window_days": window_days(backlog),
            "unsubscribe_url": page_link(context, "unsubscribe", subject),
            "feeds": feed_links(context, subject, view) if view.status == "active" else [],
            "opml_url": opml_link(context, request.path_params["token"]),
            "feeds_renewed": feeds_renewed,
            "new_feeds_action": NEW_FEEDS_ACTION,
        },
        status=status,
    )
    response.headers.update(PRIVATE_HEADERS)
    set_csrf_cookie(response, csrf, secure=context.base_url().startswith("https://"))
    return response


def _preview(
    request: Request, context: WebContext, form: ManageForm, view: SubscriberView
) -> tuple[Preview | None, list[KeywordHint]]:
    """The form's preview and its keywords that match no recent paper.

    The stored topics' example papers count for the form's topics of the same
    name. (None, []) when this client asked for too many previews lately: the
    hints cost matching too.
    """
    if not context.preview_limit.allow(client_key(request)):
        return None, []
    index = recent_index(context)
    topics = form.wanted_topics()
    examples = stored_example_topics(context.engine, view.topics)
    hints = index.hints(k for topic in topics for k in topic.keywords)
    return index.preview(topics, examples=examples), hints


# --- Example papers ------------------------------------------------------------------

EXAMPLE_ACTIONS = ("example-add", "example-remove")


@dataclass(frozen=True)
class ExampleRow:
    """One example paper of a topic as its card shows it."""

    paper_id: int
    title: str
    link: str | None
    liked: bool
    source: str


@dataclass(frozen=True)
class Search:
    """A title search asked for one topic's card: the text, the papers found or the problem."""

    topic_id: int
    text: str
    found: tuple[ExamplePaper, ...] = ()
    problem: str | None = None


@dataclass(frozen=True)
class ExampleCard:
    """A topic's example papers and, when asked there, a title search's results."""

    topic_id: int
    name: str
    level: int
    examples: tuple[ExampleRow, ...]
    search: Search | None


def _search(engine: Engine, view: SubscriberView, query: Mapping[str, str]) -> Search | None:
    """The title search the page's query asks for (?find=TEXT&topic=ID), or None.

    Only the subscriber's own topics have a card to show it in: another id is ignored.
    """
    text, topic = query.get("find"), query.get("topic", "")
    if text is None or not _ID.fullmatch(topic):
        return None
    topic_id = int(topic)
    if topic_id not in {t.id for t in view.topics}:
        return None
    try:
        with Session(engine) as session:
            found = search_titles(session, text)
    except InputError as exc:
        return Search(topic_id, text[: MAX_QUERY + 1], problem=_sentence(exc))
    return Search(topic_id, text, tuple(found))


def _channel_choices(own: list[ChannelInfo], form: ManageForm) -> list[tuple[str, str, bool]]:
    """The channels the form offers: (field name, label, checked), built-in ones first."""
    labels = {name: _CHANNEL_LABELS[name] for name in BUILT_IN_CHANNELS}
    labels.update((c.name, f"{c.name}: {c.description}") for c in own)
    return [(_CHANNEL_FIELD + name, label, name in form.channels) for name, label in labels.items()]


def _example_cards(
    engine: Engine, view: SubscriberView, search: Search | None
) -> list[ExampleCard]:
    """One card per stored topic: its examples, liked first, with links and where they came from."""
    ids = [topic.id for topic in view.topics]
    with Session(engine) as session:
        marked = examples_of(session, ids)
        rows = {
            topic_id: tuple(
                ExampleRow(
                    e.paper.id, e.paper.title, _paper_link(session, e.paper), e.liked,
                    _SOURCE_LABELS.get(e.source, e.source),
                )
                for e in examples
            )
            for topic_id, examples in marked.items()
        }  # fmt: skip
    return [
        ExampleCard(
            topic.id,
            topic.name,
            topic.level,
            rows.get(topic.id, ()),
            search if search is not None and search.topic_id == topic.id else None,
        )
        for topic in view.topics
    ]


def _paper_link(session: Session, paper: ExamplePaper) -> str | None:
    """The paper's arXiv page, else the link its source gave, else None."""
    if paper.arxiv_id:
        return f"https://arxiv.org/abs/{paper.arxiv_id}"
    row = session.get(Paper, paper.id)
    return None if row is None else row.url


def _submit_example(
    request: Request,
    context: WebContext,
    subject: LinkSubject,
    view: SubscriberView,
    fields: Mapping[str, str],
) -> Response:
    """Mark or unmark one example paper, then back to the page; the stored page and why if not."""
    topic = fields.get("topic", "")
    return _change_then_back(
        request,
        lambda: _change_example(context.engine, subject, fields, now=context.clock()),
        lambda error: _render(
            request, context, subject, view, ManageForm.from_view(view), errors=[error],
            status=400,
        ),
        "?examples=1" + (f"#examples-{topic}" if _ID.fullmatch(topic) else ""),
    )  # fmt: skip


def _submit_channel(
    request: Request,
    context: WebContext,
    subject: LinkSubject,
    view: SubscriberView,
    fields: Mapping[str, str],
) -> Response:
    """Add or remove one of the reader's chat channels, then back to the page; the page and why if not."""
    return _change_then_back(
        request,
        lambda: change_channel(context.engine, subject, fields, now=context.clock()),
        lambda error: _render(
            request, context, subject, view, ManageForm.from_view(view), channel_error=error,
            status=400,
        ),
        "?channels=1#channels",
    )  # fmt: skip


def _change_then_back(
    request: Request,
    change: Callable[[], bool],
    refused: Callable[[str], Response],
    back: str,
) -> Response:
    """Run `change` (False: the link's owner is gone), then 303 to this page with `back` appended.

    An `InputError` (nothing changed) gets `refused(its sentence)` instead.
    """
    try:
        done = change()
    except InputError as exc:
        return refused(_sentence(exc))
    if not done:
        return bad_link_page(request)  # the subscriber went away meanwhile
    return RedirectResponse(f"{request.url.path}{back}", status_code=303, headers=PRIVATE_HEADERS)


def _change_example(
    engine: Engine, subject: LinkSubject, fields: Mapping[str, str], *, now: datetime
) -> bool:
    """Apply an example form in one transaction; False if the owner is gone.

    Raises `InputError` (nothing changed) for a topic that is not the owner's,
    a paper that is not stored or not named clearly, or a removal that would
    leave a topic with nothing selecting papers.
    """
    with write_session(engine) as session:
        owner = link_owner(session, subject)
        if owner is None:
            return False
        topic = _own_topic(session, owner, fields.get("topic", ""))
        assert topic.id is not None  # read back from the store
        if fields.get("action") == "example-remove":
            paper_id = _paper_id(fields.get("paper", ""))
            if remove_example(session, topic.id, paper_id):
                _check_selects(session, topic)
            return True
        paper = _named_paper(session, fields)
        mark_example(
            session, topic.id, paper.id, liked=fields.get("liked") != "0", source="web", now=now
        )
        if fields.get("liked") == "0":
            _check_selects(session, topic)
        topic.updated_at = now
    return True


def _own_topic(session: Session, owner: Subscriber, text: str) -> Subscription:
    """The owner's topic with this id; `InputError` for any other (another's, or none)."""
    row = session.get(Subscription, int(text)) if _ID.fullmatch(text) else None
    if row is None or row.subscriber_id != owner.id:
        raise InputError("that topic is not one of this subscription's: open the page again")
    return row


def _paper_id(text: str) -> int:
    if not _ID.fullmatch(text):
        raise InputError(
            "no paper was chosen: pick one from the list or type its arXiv id or title"
        )
    return int(text)


def _named_paper(session: Session, fields: Mapping[str, str]) -> ExamplePaper:
    """The paper an add form names: a search result's id, or an arXiv id, link or exact title."""
    reference = fields.get("reference", "")
    if reference.strip():
        return find_paper(session, check_paper(reference))
    paper_id = _paper_id(fields.get("paper", ""))
    row = session.get(Paper, paper_id)
    if row is None or row.id is None:
        raise InputError(f"paper {paper_id}: no stored paper has this id; search for it again")
    return ExamplePaper(row.id, row.title, row.arxiv_id)


def _check_selects(session: Session, topic: Subscription) -> None:
    """Refuse a topic left with no keyword, liked paper, follow or trending switch."""
    if topic.keywords or selects({name: getattr(topic, name) for name in FOLLOW_FIELDS}):
        return
    assert topic.id is not None  # read back from the store
    if any(e.liked for e in examples_of(session, [topic.id]).get(topic.id, [])):
        return
    raise InputError(
        f"topic {topic.name!r} would select no paper without this liked paper:"
        " give it a keyword first, or remove the topic"
    )


def _sentence(exc: InputError) -> str:
    message = str(exc)
    return message[:1].upper() + message[1:] + "."


# --- Feed addresses ------------------------------------------------------------------

NEW_FEEDS_ACTION = "new-feeds"


def _submit_new_feeds(request: Request, context: WebContext, subject: LinkSubject) -> Response:
    """Retire the subscriber's feed addresses for new ones, then back to the page's feeds."""
    with write_session(context.engine) as session:
        done = new_feed_addresses(session, subject)
    if not done:
        return bad_link_page(request)  # the subscriber went away meanwhile
    return RedirectResponse(
        f"{request.url.path}?feeds=1#feeds", status_code=303, headers=PRIVATE_HEADERS
    )


# --- Unsubscribe ---------------------------------------------------------------------


async def unsubscribe_page(request: Request) -> Response:
    """GET: a page with one button. POST List-Unsubscribe=One-Click: unsubscribe at once."""
    context = web_context(request)
    subject = link_subject(context, "unsubscribe", request.path_params["token"])
    if subject is None:
        return bad_link_page(request)
    if request.method != "POST":
        return await run_in_threadpool(_confirm_unsubscribe, request, subject)
    # A body without Content-Length is fine (a mail provider may send it chunked): the
    # route's BodyLimit stops reading at MAX_ONE_CLICK_BYTES.
    async with request.form(max_files=0, max_fields=20) as form:
        one_click = form.get(ONE_CLICK_FIELD) == ONE_CLICK_VALUE
    if not one_click:
        return error_page(
            request,
            "Nothing was changed",
            "To unsubscribe, open the link from your digest and press the button.",
        )
    return await run_in_threadpool(_unsubscribe, request, subject)


def _confirm_unsubscribe(request: Request, subject: LinkSubject) -> Response:
    context = web_context(request)
    view = _load_view(context.engine, subject)
    if view is None:
        return bad_link_page(request)
    response = page(
        request,
        "unsubscribe.html",
        {
            "email": view.email,
            "unsubscribed": view.status != "active",
            "field": ONE_CLICK_FIELD,
            "value": ONE_CLICK_VALUE,
            "manage_url": page_link(context, "manage", subject),
        },
    )
    response.headers.update(PRIVATE_HEADERS)
    return response


def _unsubscribe(request: Request, subject: LinkSubject) -> Response:
    context = web_context(request)
    email = _unsubscribe_owner(context.engine, subject, now=context.clock())
    if email is None:
        return bad_link_page(request)
    response = page(
        request,
        "unsubscribed.html",
        {"email": email, "manage_url": page_link(context, "manage", subject)},
    )
    response.headers.update(PRIVATE_HEADERS)
    return response


def _unsubscribe_owner(engine: Engine, subject: LinkSubject, *, now: datetime) -> str | None:
    """Unsubscribe the token's subscriber (the sent history stays); their address, or None.

    Already unsubscribed: nothing changes, not even the date they left, so a
    repeated POST (mail clients retry) answers the same.
    """
    with write_session(engine) as session:
        owner = link_owner(session, subject)
        if owner is None:
            return None
        if owner.status == "active":
            unsubscribe(session, owner.email, now=now)
        return owner.email


routes: list[BaseRoute] = [
    Route("/manage/{token}", manage, methods=["GET", "POST"], name="manage"),
    Route(
        "/unsubscribe/{token}",
        unsubscribe_page,
        methods=["GET", "POST"],
        name="unsubscribe",
        middleware=[Middleware(BodyLimit, limit=MAX_ONE_CLICK_BYTES)],
    ),
]

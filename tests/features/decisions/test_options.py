"""The linked-feedback picker's options handler: searches text and customer in this
workspace, answers well within Slack's three seconds whatever it is asked, and sends labels
Slack accepts (escaped, at most 75 characters)."""

import time
from datetime import timedelta

import pytest

from bot.db import session_factory
from bot.features.feedback.models import FeedbackItem
from tests.features.decisions.room import TUESDAY
from tests.people import GLOBEX, PRIYA

SLACK_BUDGET = 3.0


@pytest.fixture
def room(decisions, workspace, engine):
    decisions.at(TUESDAY)
    globex = workspace(GLOBEX)
    items = [
        (decisions.workspace_id, "The app logs them out on every warehouse switch", "Northwind Logistics"),
        (decisions.workspace_id, "CSV export drops the time zone", "Brightline Foods"),
        (decisions.workspace_id, "<!channel> urgent: 100% of the invoices & receipts are PDF only " * 3, None),
        (globex.id, "Northwind says the tracker never updates", "Northwind"),
    ]
    old = FeedbackItem(workspace_id=decisions.workspace_id, text="Northwind, a year ago: the warehouse map is slow",
                       source="command", said_at=TUESDAY - timedelta(days=365))  # fmt: skip
    with session_factory(engine).begin() as session:
        for number, (workspace_id, text, customer) in enumerate(items):
            session.add(FeedbackItem(workspace_id=workspace_id, text=text, customer=customer, source="command",
                                     reporter_user_id="U0SAM00006", said_at=TUESDAY - timedelta(hours=number)))
        session.add(old)  # not recent: never offered
    return decisions


def options(room, query) -> list[dict]:
    started = time.monotonic()
    response = room.options(query, user=PRIYA)
    elapsed = time.monotonic() - started
    assert response.status == 200, response.text
    assert elapsed < SLACK_BUDGET
    found = response.json()["options"]
    for option in found:
        assert 0 < len(option["text"]["text"]) <= 75 and option["text"]["type"] == "plain_text"
        assert option["value"].isdigit()
    return found


def labels(found: list[dict]) -> list[str]:
    return [option["text"]["text"] for option in found]


def test_search_finds_text_or_customer_in_this_workspace_only(room):
    [by_text] = options(room, "warehouse")
    assert "Northwind Logistics: The app logs them out" in by_text["text"]["text"]
    assert labels(options(room, "NORTHWIND")) == [by_text["text"]["text"]]  # Globex's Northwind is not shown
    assert labels(options(room, "brightline")) == [labels(options(room, "time zone"))[0]]


def test_an_empty_query_offers_the_newest_feedback(room):
    found = options(room, "")
    assert len(found) == 3 and "warehouse switch" in found[0]["text"]["text"]


def test_labels_are_escaped_and_fit_slacks_limit(room):
    [found] = options(room, "invoices")
    assert found["text"]["text"].startswith("#") and "&lt;!channel&gt;" in found["text"]["text"]
    assert "<!channel>" not in found["text"]["text"]


@pytest.mark.parametrize("query", [
    "x" * 10_000, "%", "_", "\\", "'; DROP TABLE feedback_items; --", "\x00", "<!channel>", "  ", None, 42,
    {"nested": "object"}, "Northwind" + "\u0000" * 5, "\ud800",
])  # fmt: skip
def test_any_query_gets_an_answer_in_time_and_never_an_error(room, query):
    assert isinstance(options(room, query), list)


def test_wildcards_and_markup_are_searched_as_text(room):
    assert [label.split()[1] for label in labels(options(room, "100%"))] == ["&lt;!channel&gt;"]
    assert options(room, "%%") == [] and options(room, "_") == []
    assert len(options(room, "<!channel>")) == 1


def test_a_huge_query_is_searched_by_its_start(room):
    assert len(options(room, "warehouse" + " x" * 5000)) == 0
    assert len(options(room, "warehouse " + "x" * 20_000)) == 0
    assert len(options(room, "warehouse")) == 1

"""Slack's people, cached: whoever is an admin in one workspace is not one in another."""

from datetime import UTC, datetime, timedelta

from bot.slack.people import People

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
SAME_ID = "U0SHARED01"  # one person in two workspaces (Enterprise Grid, Slack Connect)


class Workspace:
    """A stand-in WebClient for one workspace: `users.info` as Slack answers it there."""

    def __init__(self, admins: set[str]):
        self.admins = admins
        self.asked = 0

    def users_info(self, user: str) -> dict:
        self.asked += 1
        return {"user": {"id": user, "is_admin": user in self.admins, "tz": "Europe/Berlin"}}


def test_an_admin_in_one_workspace_is_not_one_in_another_whatever_was_cached():
    people = People()
    acme, globex = Workspace(admins={SAME_ID}), Workspace(admins=set())
    assert people.person(acme, "T0ACME001", SAME_ID, NOW).is_admin
    assert not people.person(globex, "T0GLOBEX01", SAME_ID, NOW).is_admin
    assert people.person(acme, "T0ACME001", SAME_ID, NOW).is_admin  # both cached, apart
    assert (acme.asked, globex.asked) == (1, 1)


def test_a_cached_person_is_asked_again_after_the_ttl():
    people, acme = People(ttl=timedelta(minutes=5)), Workspace(admins={SAME_ID})
    people.person(acme, "T0ACME001", SAME_ID, NOW)
    acme.admins.clear()  # demoted in Slack
    assert people.person(acme, "T0ACME001", SAME_ID, NOW + timedelta(minutes=4)).is_admin
    assert not people.person(acme, "T0ACME001", SAME_ID, NOW + timedelta(minutes=6)).is_admin

"""Who and where the tests talk about: the ids of the seed workspaces' teams, people,
bots, channels and groups (`bot.sandbox.workspace`), named once for every test file.

    from tests.people import ACME, FEEDBACK, MAYA, SAM

tests/sandbox/test_fake_slack.py checks each id here against the seeds, so a seed
change cannot leave a test talking about someone who is no longer there.
"""

# -- Acme Robotics (`demo_workspace`): the workspace Heard serves in most tests ------------------

ACME = "T0ACME001"
ACME_BOT_TOKEN = f"xoxb-fake-{ACME}"

MAYA = "U0MAYA0001"  # CEO, primary owner (a Slack admin)
JONAS = "U0JONAS002"  # Head of Operations, Slack workspace admin
PRIYA = "U0PRIYA003"  # Support Lead
TOMAS = "U0TOMAS004"  # Product Manager
LENA = "U0LENA0005"  # Firmware Engineer
SAM = "U0SAM00006"  # Backend Engineer, America/New_York
FORMER = "U0FORMER07"  # Olek, deactivated
HEARD = "U0HEARDBOT"  # Heard's bot user
HEARD_BOT_ID = "B0HEARD001"
ZENDESK = "U0ZENDESK1"  # another app's bot user, posting tickets into #customer-feedback
ZENDESK_BOT = "B0ZENDESK1"
SLACKBOT = "USLACKBOT"

FEEDBACK = "C0FEEDBACK"  # #customer-feedback, Heard a member
GENERAL = "C0GENERAL1"  # #general
STORIES = "C0STORIES1"  # #customer-stories
PRODUCT = "C0PRODUCT1"  # #product: public, Heard not a member
LEADERS = "C0LEADERS1"  # #leadership: private, Heard a member
ARCHIVED = "C0OLDARCH1"  # #old-archive: archived

SUPPORT_GROUP = "S0SUPPORT1"  # @support

# Handles and channel names, for writing mentions the way Slack sends them.
USER_NAMES = {MAYA: "maya", JONAS: "jonas", PRIYA: "priya", TOMAS: "tomas", LENA: "lena", SAM: "sam"}
CHANNEL_NAMES = {
    FEEDBACK: "customer-feedback", GENERAL: "general", STORIES: "customer-stories",
    PRODUCT: "product", LEADERS: "leadership", ARCHIVED: "old-archive",
}  # fmt: skip

# -- Globex (`second_workspace`): the other tenant, for isolation tests ------------------------

GLOBEX = "T0GLOBEX2"
HANK = "U0HANK0001"  # Globex's primary owner
FRANK = "U0FRANK002"
GLOBEX_HEARD = "U0GLXHEARD"
GLOBEX_FEEDBACK = "C0GLXFEED1"
GLOBEX_GENERAL = "C0GLXGENRL"

# -- Ids no seed has: for "unknown channel/user" cases -----------------------------------------

NO_SUCH_CHANNEL = "C0NOPE0001"
NO_SUCH_USER = "U0NOBODY99"

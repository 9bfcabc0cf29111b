import pytest

from bot.settings import ConfigError, Settings, SlackMode, load_settings

SLACK_VARS = [
    "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET", "SLACK_API_URL", "DATABASE_URL", "PORT", "HEARD_SLASH_COMMAND",
]  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in SLACK_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_match_the_spec():
    settings = load_settings()
    assert settings.database_url == "sqlite:///heard.db"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.port == 3000
    assert settings.heard_slash_command == "/heard"
    assert settings.slack_mode is None


def test_env_file_is_read(tmp_path):
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-dotenv\nPORT=4000\n")
    settings = load_settings()
    assert settings.slack_bot_token == "xoxb-from-dotenv"
    assert settings.port == 4000


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("PORT", "abc", "PORT"),
        ("PORT", "70000", "PORT"),
        ("DATABASE_URL", "mysql://db/x", "DATABASE_URL"),
        ("DATABASE_URL", "not a url", "DATABASE_URL"),
        ("SLACK_API_URL", "ftp://x", "SLACK_API_URL"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "SLACK_BOT_TOKEN"),
        ("SLACK_APP_TOKEN", "xoxb-wrong-kind", "SLACK_APP_TOKEN"),
        ("HEARD_SLASH_COMMAND", "heard", "HEARD_SLASH_COMMAND"),
    ],
)
def test_malformed_setting_is_one_line_naming_the_variable(monkeypatch, name, value, named):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(named)
    assert "\n" not in message


def test_secret_values_are_not_echoed(monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-secret-value")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "secret-value" not in str(caught.value)


def test_postgres_urls_get_the_psycopg_driver(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db:5432/heard")
    assert load_settings().database_url == "postgresql+psycopg://u:p@db:5432/heard"


def test_api_url_gets_a_trailing_slash(monkeypatch):
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:8080/api")
    assert load_settings().slack_api_url == "http://127.0.0.1:8080/api/"


def test_no_credentials_points_to_the_demo():
    with pytest.raises(ConfigError, match="heard demo"):
        load_settings().require_slack()


@pytest.mark.parametrize(
    ("env", "mode_or_missing"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, SlackMode.HTTP),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET"),
        ({"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN"),
        ({"SLACK_APP_TOKEN": "xapp-1", "SLACK_BOT_TOKEN": "xoxb-1"}, SlackMode.SOCKET),
        ({"SLACK_APP_TOKEN": "xapp-1"}, "SLACK_BOT_TOKEN"),
        (
            {"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "c", "SLACK_SIGNING_SECRET": "s"},
            SlackMode.OAUTH,
        ),
        ({"SLACK_CLIENT_ID": "1.2", "SLACK_SIGNING_SECRET": "s"}, "SLACK_CLIENT_SECRET"),
        ({"SLACK_BOT_TOKEN": "", "SLACK_SIGNING_SECRET": " "}, "heard demo"),
    ],
)
def test_slack_mode_needs_its_credentials(monkeypatch, env, mode_or_missing):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    if isinstance(mode_or_missing, SlackMode):
        assert settings.require_slack() is mode_or_missing
    else:
        with pytest.raises(ConfigError, match=mode_or_missing):
            settings.require_slack()


def test_overrides_win_over_environment(monkeypatch):
    monkeypatch.setenv("PORT", "4000")
    assert Settings(_env_file=None, port=5000).port == 5000


@pytest.mark.parametrize(
    ("env", "dotenv"),
    [
        ({}, ""),
        ({"PORT": "4100"}, ""),
        ({"port": "4200"}, ""),  # any case, as Settings
        ({}, "PORT=4300\n"),
        ({}, "port=4301\nSLACK_APP_TOKEN=xapp-1\n"),
        ({"PORT": "4400"}, "PORT=4401\n"),  # the environment first
        ({"SLACK_APP_TOKEN": "  "}, "SLACK_APP_TOKEN=xapp-1\n"),  # set, blank: not Socket Mode
        ({"PORT": "065000"}, ""),
    ],
)
def test_bot_environ_reads_port_and_socket_mode_as_settings_does(monkeypatch, tmp_path, env, dotenv):
    from bot.environ import peek_port, peek_socket_mode

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if dotenv:
        (tmp_path / ".env").write_text(dotenv)
    settings = load_settings()
    assert peek_port() == settings.port
    assert peek_socket_mode() == (settings.slack_mode is SlackMode.SOCKET)


@pytest.mark.parametrize("value", ["not-a-port", "", "0", "70000", " 4000", "4_000", "٤٠٠٠", "9" * 4301])
def test_bot_environ_leaves_any_other_port_to_settings(monkeypatch, value):
    from bot.environ import peek_port

    monkeypatch.setenv("PORT", value)
    assert peek_port() is None


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("PORT", "abc", "PORT Input should be a valid integer, unable to parse string as an integer (got 'abc')"),
        ("PORT", "70000", "PORT Input should be less than or equal to 65535 (got '70000')"),
        ("PORT", "0", "PORT Input should be greater than or equal to 1 (got '0')"),
        ("PORT", "-1", "PORT Input should be greater than or equal to 1 (got '-1')"),
        ("PORT", "4000.5", "PORT Input should be a valid integer, unable to parse string as an integer (got '4000.5')"),
        ("DATABASE_URL", "mysql://db/x", "DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL (got 'mysql://db/x')"),
        ("DATABASE_URL", "not a url", "DATABASE_URL is not a database URL (e.g. sqlite:///heard.db) (got 'not a url')"),
        ("SLACK_API_URL", "ftp://x", "SLACK_API_URL must be an http(s) URL such as https://slack.com/api/ (got 'ftp://x')"),
        ("SLACK_BOT_TOKEN", "xoxp-user-token", "SLACK_BOT_TOKEN must be a bot token starting with xoxb-"),
        ("SLACK_APP_TOKEN", "xoxb-wrong-kind", "SLACK_APP_TOKEN must be an app-level token starting with xapp-"),
        ("HEARD_SLASH_COMMAND", "heard", "HEARD_SLASH_COMMAND must look like /heard (got 'heard')"),
    ],
)  # fmt: skip
def test_a_malformed_setting_reads_as_it_always_has(monkeypatch, name, value, line):
    """The lines pydantic wrote when Settings was its model (until issue 20), word for word:
    operators and their scripts know them."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == line


def test_a_port_past_int_s_digit_limit_is_pydantic_s_line(monkeypatch):
    """int() refuses digit strings over 4,300 long; pydantic has its own words for them."""
    monkeypatch.setenv("PORT", "9" * 4301)
    with pytest.raises(ConfigError, match="^PORT Unable to parse input string as an integer, exceeded maximum size"):
        load_settings()
    monkeypatch.setenv("PORT", "0" * 4300 + "1")
    assert load_settings().port == 1


def test_an_env_file_that_is_not_utf8_is_one_line(tmp_path):
    from bot.environ import peek_port

    (tmp_path / ".env").write_bytes(b"SLACK_BOT_TOKEN=xoxb-1\nPORT=4000\xff\n")
    for read in (load_settings, peek_port):
        with pytest.raises(ConfigError, match=r"^\.env is not UTF-8 text \(byte 0xff at offset 32\); save it as UTF-8$"):
            read()


def test_the_first_wrong_setting_in_field_order_is_the_one_named(monkeypatch):
    monkeypatch.setenv("PORT", "abc")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-1")
    with pytest.raises(ConfigError, match="^SLACK_BOT_TOKEN "):
        load_settings()


@pytest.mark.parametrize("value", [" 4000", "4000\n", "+4000", "4_000", "4000.0", "04000", "65535"])
def test_a_port_is_read_as_pydantic_reads_an_integer(monkeypatch, value):
    monkeypatch.setenv("PORT", value)
    assert load_settings().port == int(float(value.replace("_", "")))


def test_every_port_text_is_judged_as_pydantic_judges_it(monkeypatch):
    """Settings reads plain digits itself and hands any other PORT to pydantic: for every
    text, the port or the message is pydantic's own."""
    from typing import Annotated

    from hypothesis import given, settings
    from hypothesis import strategies as st
    from pydantic import Field, TypeAdapter, ValidationError

    adapter = TypeAdapter(Annotated[int, Field(ge=1, le=65535)])
    digits = st.text(alphabet="0123456789", min_size=1, max_size=8)
    long_digits = st.integers(4290, 4310).flatmap(lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n))
    texts = st.one_of(digits, long_digits, st.text(alphabet="0123456789 +-_.\t٤x", max_size=8), st.text(max_size=6))

    @settings(max_examples=300, deadline=None)
    @given(texts)
    def check(text):
        try:
            expected = adapter.validate_python(text)
        except ValidationError as exc:
            expected = exc.errors()[0]["msg"]
        try:
            got = Settings(_env_file=None, port=text).port
        except ConfigError as exc:
            got = str(exc).removeprefix("PORT ").split(" (got ")[0]
        assert got == expected

    check()


def test_keyword_values_of_other_types_are_judged_by_pydantic():
    assert Settings(_env_file=None, port=5000).port == 5000
    assert Settings(_env_file=None, slack_bot_token=b"xoxb-9").slack_bot_token == "xoxb-9"
    with pytest.raises(ConfigError, match="^DATABASE_URL Input should be a valid string$"):
        Settings(_env_file=None, database_url=None)
    with pytest.raises(ConfigError, match="^PORT Input should be a valid integer$"):
        Settings(_env_file=None, port=None)


def test_reading_the_settings_imports_no_pydantic(tmp_path):
    """The environment holds text, which Settings reads without pydantic (0.1 s of every start)."""
    import subprocess
    import sys

    code = "import sys; from bot.settings import load_settings; load_settings(); print('pydantic' in sys.modules)"
    env = {"PATH": "/usr/bin:/bin", "PORT": "4000", "SLACK_BOT_TOKEN": "xoxb-1", "DATABASE_URL": "sqlite:///x.db"}
    found = subprocess.run([sys.executable, "-c", code], check=False, cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=60)  # fmt: skip
    assert found.stdout.strip() == "False", found.stderr


def test_fields_set_names_what_was_given(monkeypatch):
    monkeypatch.setenv("PORT", "4000")
    assert "port" in load_settings().fields_set
    monkeypatch.delenv("PORT")
    assert "port" not in load_settings().fields_set


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SLACK_BOT_TOKEN", "xoxb-1\nx"),  # a line break pasted into a .env, quoted
        ("SLACK_BOT_TOKEN", "xoxb-1 x"),
        ("SLACK_APP_TOKEN", "xapp-1\tx"),
        ("SLACK_SIGNING_SECRET", "ab\ncd"),
        ("SLACK_CLIENT_SECRET", "s3cr\u00e9t"),
        ("OPENAI_API_KEY", "sk-1\r\n2"),
    ],
)
def test_a_credential_that_cannot_travel_in_a_header_is_one_line(monkeypatch, name, value):
    """A bot token with a line break was a traceback from the HTTP library when the worker
    first called Slack ("Invalid header value"), and gunicorn's "Worker failed to boot"."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == f"{name} must be printable ASCII without spaces or line breaks"


@pytest.mark.parametrize("value", ["::::", "ftp://x", "http://", "http://[::1", "http://host:99999/v1",
                                   "http://a b/v1", "https://api.open\u00e4i.com\n/v1"])  # fmt: skip
def test_an_openai_base_url_no_client_can_open_is_one_line(monkeypatch, value):
    """`::::` was httpx's InvalidURL traceback from `heard digest preview`."""
    monkeypatch.setenv("OPENAI_BASE_URL", value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("OPENAI_BASE_URL must be an http(s) URL such as https://api.openai.com/v1")
    assert "\n" not in str(caught.value)


def test_an_openai_base_url_on_loopback_is_taken(monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", " http://127.0.0.1:8080/v1 ")
    assert load_settings().openai_base_url == "http://127.0.0.1:8080/v1"


def test_a_slash_command_is_at_most_slack_s_32_characters(monkeypatch):
    """A longer name made a manifest that Slack's schema refuses, and no error at all."""
    monkeypatch.setenv("HEARD_SLASH_COMMAND", "/" + "a" * 31)
    assert load_settings().heard_slash_command == "/" + "a" * 31
    monkeypatch.setenv("HEARD_SLASH_COMMAND", "/" + "a" * 32)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("HEARD_SLASH_COMMAND must be at most 32 characters, the slash included")


@pytest.mark.parametrize("value", ["/a\tb", "/heard\u200b", "/he\u2028ard"])
def test_a_slash_command_with_invisible_or_space_characters_is_refused(monkeypatch, value):
    monkeypatch.setenv("HEARD_SLASH_COMMAND", value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("HEARD_SLASH_COMMAND must look like /heard")

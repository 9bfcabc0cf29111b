import pytest

from bot.llm.prompts import (
    MissingPromptVariable,
    PromptNotFound,
    load_prompt,
    prompt_search_path,
    render_prompt,
)
from bot.settings import Settings


@pytest.fixture
def prompts(tmp_path):
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "greeting.txt").write_text("Summarize for $team in ${period}. Costs $$5.\n")
    return folder


def test_renders_variables(prompts):
    text = render_prompt("greeting", directory=prompts, team="Acme", period="week 48")

    assert text == "Summarize for Acme in week 48. Costs $5.\n"


def test_user_text_is_inserted_as_data_not_template_syntax(prompts):
    text = render_prompt("greeting", directory=prompts, team="$period ${team} $$", period="x")

    assert text == "Summarize for $period ${team} $$ in x. Costs $5.\n"


def test_missing_variable_names_it_and_the_file(prompts):
    with pytest.raises(MissingPromptVariable) as caught:
        render_prompt("greeting", directory=prompts, team="Acme")

    assert "$period" in str(caught.value) and str(prompts / "greeting.txt") in str(caught.value)


def test_missing_template_names_the_path_searched(prompts):
    with pytest.raises(PromptNotFound) as caught:
        load_prompt("digest_themes", directory=prompts)

    assert str(prompts / "digest_themes.txt") in str(caught.value)


@pytest.mark.parametrize("name", ["../secrets", "a/b", "", "Greeting.TXT"])
def test_names_cannot_leave_the_directory(prompts, name):
    with pytest.raises(ValueError):
        load_prompt(name, directory=prompts)


def test_heard_prompts_dir_setting_is_the_only_place_looked(prompts, monkeypatch):
    monkeypatch.setenv("HEARD_PROMPTS_DIR", str(prompts))
    settings = Settings(_env_file=None)

    assert prompt_search_path(settings.heard_prompts_dir) == [prompts]
    assert render_prompt("greeting", directory=settings.heard_prompts_dir, team="A", period="B").startswith(
        "Summarize for A"
    )


def test_blank_heard_prompts_dir_means_the_default_places(prompts, monkeypatch):
    monkeypatch.setenv("HEARD_PROMPTS_DIR", " ")
    monkeypatch.chdir(prompts.parent)

    assert Settings(_env_file=None).heard_prompts_dir is None
    assert prompt_search_path(None)[0] == prompts


def test_prompts_read_settings_not_the_environment(prompts, tmp_path, monkeypatch):
    monkeypatch.setenv("HEARD_PROMPTS_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.chdir(prompts.parent)

    assert prompt_search_path()[0] == prompts
    assert prompt_search_path(prompts) == [prompts]


def test_working_directory_prompts_come_before_the_repository_copy(prompts, monkeypatch):
    monkeypatch.delenv("HEARD_PROMPTS_DIR", raising=False)
    monkeypatch.chdir(prompts.parent)

    path = prompt_search_path()

    assert path[0] == prompts
    assert all(folder.is_dir() for folder in path)
    assert load_prompt("greeting")[0] == prompts / "greeting.txt"


def test_template_missing_from_working_directory_is_looked_up_further(prompts, monkeypatch):
    monkeypatch.delenv("HEARD_PROMPTS_DIR", raising=False)
    monkeypatch.chdir(prompts.parent)

    with pytest.raises(PromptNotFound) as caught:
        load_prompt("no_such_template")

    assert len(caught.value.searched) == len(prompt_search_path())
    assert caught.value.searched[0] == prompts / "no_such_template.txt"

import pytest

from bot.llm.prompts import (
    MissingPromptVariable,
    PromptNotFound,
    load_prompt,
    prompt_search_path,
    render_prompt,
)


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


def test_env_var_is_used_when_no_directory_given(prompts, monkeypatch):
    monkeypatch.setenv("HEARD_PROMPTS_DIR", str(prompts))

    assert prompt_search_path() == [prompts]
    assert render_prompt("greeting", team="A", period="B").startswith("Summarize for A")


def test_explicit_directory_beats_env(prompts, tmp_path, monkeypatch):
    monkeypatch.setenv("HEARD_PROMPTS_DIR", str(tmp_path / "elsewhere"))

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

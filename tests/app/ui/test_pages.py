"""The web UI's pages run by Streamlit's AppTest against a real API server."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.app.ui.conftest import UI, page, seed_eval_runs


def _html(app) -> str:
    """What the page wrote, without the style sheet."""
    return "\n".join(str(m.value) for m in app.markdown if not str(m.value).startswith("<style>"))


def test_chat_streams_an_answer_with_clickable_citations(api_url) -> None:
    app = page("chat", api_url).run()
    app.chat_input[0].set_value("how do I install into a virtualenv").run()
    assert not app.exception and not app.error
    [turn] = app.session_state["history"]
    assert turn["answer"]["citations"] and not turn["answer"]["abstained"]
    html = _html(app)
    assert 'class="cw-cite" href="#cw-t0-s1">[1]</a>' in html  # the marker links to its source card
    assert 'id="cw-t0-s1"' in html and "<mark>" in html and "install.md" in html


def test_follow_up_questions_send_the_conversation(api_url) -> None:
    app = page("chat", api_url).run()
    app.chat_input[0].set_value("how do I install into a virtualenv").run()
    app.chat_input[0].set_value("which python version does it need").run()
    history = app.session_state["history"]
    assert len(history) == 2 and history[1]["answer"]["standalone_question"]
    assert 'href="#cw-t1-s1"' in _html(app)  # the second turn's markers point at its own sources


def test_the_documents_dont_say_looks_distinct(api_url) -> None:
    app = page("chat", api_url, model="fake").run()  # echoes the prompt: never supported
    app.chat_input[0].set_value("what is the capital of peru").run()
    html = _html(app)
    assert "cw-none" in html and "The documents don" in html and 'class="cw-cite' not in html
    assert "install.md" in html or "backup.md" in html  # the closest passages are shown


def test_an_api_error_is_shown_not_raised(api_url) -> None:
    app = page("chat", api_url, model="no-such-model").run()
    app.chat_input[0].set_value("anything").run()
    assert not app.exception
    assert app.error and "not offered" in app.error[0].value
    assert app.session_state["history"] == []


def test_documents_page_lists_and_deletes(api_url) -> None:
    app = page("documents", api_url).run()
    assert not app.exception
    assert app.selectbox(key="documents_collection").value == "guide"
    table = app.dataframe[0].value
    assert sorted(table["file"]) == ["backup.md", "install.md"]
    choice = app.selectbox(key="delete_choice")
    backup = next(option for option in choice.options if "backup.md" in option)
    choice.set_value(backup).run()
    app.button(key="delete_document").click().run()
    assert not app.exception and list(app.dataframe[0].value["file"]) == ["install.md"]


def test_documents_page_creates_a_collection(api_url) -> None:
    app = page("documents", api_url).run()
    app.text_input(key="new_collection_name").set_value("handbook").run()
    app.button(key="create_collection").click().run()
    assert not app.exception and app.selectbox(key="documents_collection").value == "handbook"
    assert "No documents yet" in app.info[0].value


def test_settings_page_offers_models_and_collections(api_url) -> None:
    app = page("settings", api_url).run()
    assert not app.exception and not app.warning and app.success and "Connected" in app.success[0].value
    assert "extractive" in app.selectbox(key="model").options
    assert app.multiselect(key="collections").options == ["guide"]
    assert app.number_input(key="k").value is None  # the server's default until chosen
    app.number_input(key="k").set_value(5).run()
    app.radio(key="mode").set_value("sparse").run()
    assert app.session_state["k"] == 5 and app.session_state["mode"] == "sparse"


def test_settings_page_says_when_the_api_is_down() -> None:
    app = page("settings", "http://127.0.0.1:9").run()
    assert not app.exception and "No Citewise API answers" in app.error[0].value


def test_evaluation_page_compares_runs_and_groups_failures(api_url, tmp_path) -> None:
    older, newer = seed_eval_runs(tmp_path / "data")
    app = page("evaluation", api_url).run()
    assert not app.exception and not app.error
    assert app.selectbox(key="eval_collection").value == "guide"
    table = app.dataframe[0].value
    assert list(table["run"]) == ["2025-02-01 00:00 · default k=8", "2025-01-01 00:00 · default"]
    assert list(table["answer_correct"]) == [0.0, 1.0] and list(table["abstention_f1"]) == [1.0, 1.0]
    assert list(table["settings"]) == ["k=8", ""]
    assert app.multiselect(key="eval_chart_metrics").value == ["answer_correct", "token_f1",
                                                               "citation_precision", "hit_at_k"]  # fmt: skip

    # The newest run is chosen first: its wrong answer is listed under its class.
    assert app.selectbox(key="eval_run").value == newer.stem
    [wrong] = app.expander
    assert wrong.label == "Answered wrongly (1)"
    rows = app.dataframe[1].value
    assert list(rows["question"]) == ["how do I install?"] and list(rows["answer"]) == ["Use apt-get [1]."]
    assert list(rows["expected"]) == ["pip install"] and list(rows["expected sources"]) == ["install.md"]
    assert any("1 of 2 questions succeeded" in str(m.value) for m in app.markdown)

    # The older run failed nothing.
    app.selectbox(key="eval_run").set_value(older.stem).run()
    assert not app.exception and not app.expander
    assert any("2 of 2 questions succeeded" in str(m.value) for m in app.markdown)


def test_evaluation_page_without_runs_says_how_to_make_one(api_url) -> None:
    app = page("evaluation", api_url).run()
    assert not app.exception and not app.error
    assert app.info and "citewise eval FILE -c guide" in app.info[0].value


def test_the_api_address_comes_from_the_settings_dotenv_included(tmp_path) -> None:
    (tmp_path / ".env").write_text("CITEWISE_API_URL=http://api.example.invalid:9000\n")  # cwd is tmp_path
    app = AppTest.from_file(str(UI / "views" / "settings.py"), default_timeout=30).run()
    assert app.session_state["api_url"] == "http://api.example.invalid:9000"

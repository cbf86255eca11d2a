"""creditlab.progress: which bar where, and what a recorded output holds."""

import io
import warnings

import pytest

from creditlab import progress


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    monkeypatch.delenv("CREDITLAB_PROGRESS", raising=False)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)


def run(n=40, **kw):
    buf = io.StringIO()
    for _ in progress.tqdm(range(n), file=buf, desc="runs", **kw):
        pass
    return buf.getvalue()


def test_outside_a_terminal_a_bar_prints_only_its_final_line():
    assert progress.mode() == "final"  # pytest captures stderr: not a terminal
    out = run()
    assert out.count("\n") == 1 and "\r" not in out
    assert out.startswith("runs: 100%") and "40/40" in out
    assert run(leave=False) == ""


def test_final_bar_ignores_refreshes_and_postfixes():
    buf = io.StringIO()
    with progress.tqdm(total=3, desc="runs", file=buf) as bar:
        for i in range(3):
            bar.set_postfix_str(f"arm {i}")
            bar.refresh()
            bar.update()
    assert buf.getvalue().count("\n") == 1 and "3/3" in buf.getvalue()
    assert "arm 2" in buf.getvalue()


@pytest.mark.parametrize("value", ["off", "0", "none", "OFF"])
def test_off_prints_nothing(monkeypatch, value):
    monkeypatch.setenv("CREDITLAB_PROGRESS", value)
    assert progress.mode() == "off"
    assert run() == ""


def test_tqdm_disable_is_honoured(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert progress.mode() == "off"
    monkeypatch.setenv("TQDM_DISABLE", "0")
    assert progress.mode() == "final"


def test_text_mode_is_tqdms_live_bar(monkeypatch):
    monkeypatch.setenv("CREDITLAB_PROGRESS", "text")
    assert progress.mode() == "text"
    assert "\r" in run()


def test_widget_outside_a_kernel_falls_back_to_final(monkeypatch):
    monkeypatch.setenv("CREDITLAB_PROGRESS", "widget")
    assert progress.mode() == "final"


def test_unknown_mode_is_an_error(monkeypatch):
    monkeypatch.setenv("CREDITLAB_PROGRESS", "fancy")
    with pytest.raises(ValueError, match="CREDITLAB_PROGRESS"):
        progress.mode()


def test_explicit_disable_wins_and_trange():
    assert run(disable=True) == ""
    buf = io.StringIO()
    assert list(progress.trange(3, file=buf)) == [0, 1, 2]


def test_importing_never_warns():
    import importlib

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(progress)

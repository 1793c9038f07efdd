"""Word packs: one job's words (a new report section's, say) in every language, in one file."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.catalogues import CATALOGUES, SOURCE, add_pack, problems, read_pack
from analysis.i18n import text

SIGNOFF = """
[en]
testpack_title = "Sign-off"
testpack_text = "Approved by {who} on {day}."
[fr]
testpack_title = "Validation"
testpack_text = "Approuvé par {who} le {day}."
[nl]
testpack_title = "Goedkeuring"
testpack_text = "Goedgekeurd door {who} op {day}."
"""


def _pack(tmp_path: Path, body: str, name: str = "signoff.toml") -> dict[str, dict[str, str]]:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return read_pack(path)


def test_a_packs_words_reach_every_language_and_keep_the_catalogues_in_parity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    merged = add_pack(CATALOGUES, _pack(tmp_path, SIGNOFF), "packs/signoff.toml")
    for code, found in merged.items():
        monkeypatch.setitem(CATALOGUES, code, found)
        assert problems(found, merged[SOURCE]) == []
    assert text("fr", "testpack_title") == "Validation"
    assert text("nl", "testpack_text", who="A. Peeters", day="9 januari") == "Goedgekeurd door A. Peeters op 9 januari."
    assert text("en", "testpack_title") == "Sign-off"


def test_a_language_the_pack_forgot_is_named_by_the_parity_check(tmp_path: Path) -> None:
    pack = _pack(tmp_path, SIGNOFF.split("[nl]", maxsplit=1)[0])
    merged = add_pack(CATALOGUES, pack, "packs/signoff.toml")
    assert sorted(problems(merged["nl"], merged[SOURCE])) == [
        "nl: words.testpack_text: missing (English: 'Approved by {who} on {day}.')",
        "nl: words.testpack_title: missing (English: 'Sign-off')",
    ]


def test_placeholders_must_agree_across_a_packs_languages(tmp_path: Path) -> None:
    pack = _pack(tmp_path, SIGNOFF.replace("le {day}", "le {jour}"))
    merged = add_pack(CATALOGUES, pack, "packs/signoff.toml")
    assert problems(merged["fr"], merged[SOURCE]) == [
        "fr: words.testpack_text: placeholders ['jour', 'who'], English has ['day', 'who']"
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[fr]\ncontents = "Table"\n', "packs/x.toml: fr.contents: already in fr.toml or an earlier pack"),
        ('[xx]\ntestpack_title = "?"\n', "packs/x.toml: xx: no catalogue xx.toml for these words"),
        ("[fr]\ntestpack_title = 3\n", "packs/x.toml: fr.testpack_title: expected a string, got int"),
        ("[fr\n", "packs/x.toml: not TOML"),
    ],
)
def test_a_bad_pack_is_one_line_naming_the_file_and_key(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(".", r"\.")):
        add_pack(CATALOGUES, _pack(tmp_path, body, "x.toml"), "packs/x.toml")

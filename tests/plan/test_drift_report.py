"""The drift renderers: JSON fields, GitHub annotations, the markdown size limit."""

from __future__ import annotations

import json

from reconciler.desired.drift_policy import DriftAction
from reconciler.plan.drift import DriftClass, DriftItem
from reconciler.plan.drift_report import Located, message, render_github, render_json, render_markdown, render_text


def item(n: int, cls: DriftClass = DriftClass.BY_HAND, action: DriftAction = DriftAction.REPORT) -> Located:
    return Located(DriftItem("cn-shanghai", "shop", f"svc_{n}", "replicas", cls, 3, 2, action=action,
                             named=True), "groups/shop,1.yaml", 10 + n, 7)


def test_json_lists_shown_items_and_counts_only_drift() -> None:
    doc = json.loads(render_json([item(1), item(2, DriftClass.PLATFORM), item(3, action=DriftAction.IGNORE)]))
    assert doc["drift"] is True and doc["format_version"] == 1
    assert doc["summary"]["by_hand"] == 1 and doc["summary"]["platform"] == 1  # the ignored one is not counted
    assert [(i["service"], i["next_apply"], i["counted"]) for i in doc["items"]] == [
        ("svc_1", "keeps", True), ("svc_2", "leaves", False)]
    assert json.loads(render_json([item(1, DriftClass.PENDING)]))["drift"] is False


def test_github_annotations_escape_the_file_and_say_warning_or_notice() -> None:
    lines = render_github([item(1), item(2, DriftClass.PLATFORM)]).splitlines()
    assert lines[0].startswith("::warning file=groups/shop%2C1.yaml,line=11,col=7,title=drift::svc_1 replicas")
    assert lines[1].startswith("::notice file=groups/shop%2C1.yaml,line=12,col=7,title=drift::svc_2 replicas")


def test_markdown_fits_one_comment_and_says_what_was_left_out() -> None:
    many = [item(n) for n in range(3000)]
    text = render_markdown(many)
    assert len(text) <= 65_536
    assert "more item(s) left out to fit one comment" in text
    assert "| cn-shanghai/shop | svc_0 | `replicas` | `2` | `3` | changed by hand | keeps |" in text
    assert "left out" not in render_markdown(many[:5])


def test_text_ends_with_the_total() -> None:
    assert render_text([item(1)]).splitlines()[-1] == "Drift: 1 item(s) in 1 group(s) (1 by_hand)."
    assert render_text([]) == "No drift.\n"


def test_a_named_config_field_of_unknown_cause_says_write_leaves_the_file() -> None:
    item = DriftItem("cn-shanghai", "shop", "svc", "config.model_path", DriftClass.BY_HAND, "a", "b",
                     named=True, known=False)
    assert item.file_may_be_ahead and "`drift --write` leaves the file" in message(item)
    known = DriftItem(**{**item.__dict__, "known": True})
    assert not known.file_may_be_ahead and "`drift --write` records it" in message(known)

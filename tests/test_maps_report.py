"""The Geography maps as a reader sees them: labels, scales that fit, no empty tab, nothing painted red the text calls chance."""

from __future__ import annotations

import dataclasses

import numpy as np
import plotly.graph_objects as go
import polars as pl
import pytest

from analysis import maps, sections
from analysis.htmlexport import OfflineRenderer


def _geography(analysis, lang: str) -> list[dict]:
    b = dataclasses.replace(analysis, params=dataclasses.replace(analysis.params, language=lang))
    return [p.to_plotly_json() for p in sections.geography(b) if not isinstance(p, str)]


def _buttons(fig: dict) -> list[str]:
    return [b["label"] for m in fig["layout"].get("updatemenus", []) for b in m.get("buttons", [])]


@pytest.fixture(scope="module")
def figures(default_analysis) -> dict[str, list[dict]]:
    return {lang: _geography(default_analysis, lang) for lang in ("en", "nl")}


def test_maps_carry_province_labels_in_the_readers_language(figures) -> None:
    area_map, recovery_map = figures["en"][0], figures["en"][2]
    for fig in (area_map, recovery_map):
        (labels,) = [t for t in fig["data"] if t.get("name") == "labels"]
        assert labels["mode"] == "text" and "Hainaut" in labels["text"] and "Flemish Brabant" in labels["text"]
        assert len(labels["text"]) == 10  # the ten provinces (Brussels carries the origin's star and name)
    (nl,) = [t for t in figures["nl"][0]["data"] if t.get("name") == "labels"]
    assert "Henegouwen" in nl["text"] and "Luik" in nl["text"] and "Vlaams-Brabant" in nl["text"]


def test_every_map_names_the_provinces_and_stars_the_origin(figures) -> None:
    """The counts, statements, recovery and hourly maps alike: a reader finds Evere and the provinces on each."""
    for lang, origin in (("en", "Evere datacenter"), ("nl", "datacenter in Evere")):
        geo_maps = [f for f in figures[lang] if any(t.get("type") == "choropleth" for t in f["data"])]
        assert len(geo_maps) >= 4, lang
        for fig in geo_maps:
            names = [t.get("name") for t in fig["data"]]
            assert "labels" in names and "origin" in names, (lang, names)
            (star,) = [t for t in fig["data"] if t.get("name") == "origin"]
            assert star["marker"]["symbol"] == "star" and origin in star["text"][0]


def test_brussels_and_flemish_brabant_with_reports_are_not_painted_unaffected(default_analysis, figures) -> None:
    from analysis.spatial_report import reported_codes, spatial_analysis

    s = spatial_analysis(default_analysis)
    stated = dict(zip(s.statements["area"], s.statements["status"], strict=True))
    assert stated["Brussels"] == stated["Flemish Brabant"] == "not_affected"  # what one source says of a minority
    assert {"04000", "20001"} <= set(reported_codes(s))  # both hold down reports
    (statements_map,) = [f for f in figures["en"] if any(t.get("name") == "province: down" for t in f["data"])]
    painted = {t["name"]: t["locations"] for t in statements_map["data"] if t.get("type") == "choropleth" and "name" in t}
    assert not any("not affected" in name for name in painted), painted
    assert "04000" in painted["region: reports; some kept service"]
    assert "20001" in painted["province: reports; some kept service"]
    from analysis.figure_text import translate_figure

    nl = translate_figure(statements_map, "nl")
    assert "provincie: meldingen; een deel behield de dienst" in [t.get("name") for t in nl["data"]]


def test_no_clusters_tab_when_no_local_cluster_is_significant(default_analysis, figures) -> None:
    from analysis.spatial_report import spatial_analysis

    moran = spatial_analysis(default_analysis).moran
    assert moran is not None and moran.counts() == {}  # the 2018 data: no LISA cluster survives the FDR
    assert _buttons(figures["en"][0]) == ["Reports", "Rate", "Observed vs expected"]


def test_excess_layer_paints_nothing_the_text_calls_chance(default_analysis, figures) -> None:
    from analysis.spatial_report import spatial_analysis

    table = spatial_analysis(default_analysis).table
    nominal = table.filter(pl.col("verdict") == "more than expected")
    assert nominal.height == 6 and nominal["q_value"].min() >= maps.EXCESS_FDR  # 6 nominal, none after the correction
    spec = maps._area_layer("excess", table.to_dicts(), "per 10,000")
    z = np.array([np.nan if v is None else v for v in spec["z"]], dtype=float)
    assert np.nanmax(np.abs(z)) == 0.0  # every area neutral
    # an area that stays significant after the correction is coloured
    rows = [
        {"ratio": 8.0, "verdict": "more than expected", "q_value": 0.01},
        {"ratio": 8.0, "verdict": "more than expected", "q_value": 0.5},
    ]
    assert maps._area_layer("excess", rows, "per 10,000")["z"] == [3.0, 0.0]


def test_recovery_scale_reaches_the_latest_area_and_windows_count_from_their_start(figures) -> None:
    recovery_map = figures["en"][2]
    (areas,) = [t for t in recovery_map["data"] if t.get("name") == "areas"]
    hover = dict(zip(areas["locations"], areas["hovertext"], strict=True))
    z = dict(zip(areas["locations"], areas["z"], strict=True))
    # Messancy, Tuesday 17:09: the latest timed statement, 21 h 09 min after the 20:00 onset, at the top of the scale
    messancy = next(k for k, h in hover.items() if "Messancy" in h)
    assert z[messancy] == pytest.approx(21.15, abs=0.01) and areas["zmax"] >= z[messancy]
    # Durbuy, 'Tuesday morning' (06:00–12:00): down at least until 06:00, i.e. 10 h after onset, not noon's 16 h
    durbuy = next(k for k, h in hover.items() if "Durbuy" in h)
    assert z[durbuy] == pytest.approx(10.0, abs=0.01)
    assert "Tue 06:00" in hover[durbuy]


def test_animated_map_opens_on_its_first_frame() -> None:
    fig = go.Figure(go.Scatter(x=[0], y=[0]), frames=[go.Frame(data=[go.Scatter(x=[i], y=[i])], name=str(i)) for i in range(3)])
    html = OfflineRenderer("en").to_mimebundle(fig.to_plotly_json())["text/html"]
    assert "Plotly.addFrames" in html  # the frames are there for the play button
    assert "Plotly.animate" not in html  # but nothing plays them on load (the page prints its first frame)


def test_region_curves_of_curated_statements_are_named_as_the_timing_model(default_analysis, figures) -> None:
    """The statements are a selection: the region panels read as the exploratory curve does, not as customers restored."""
    from analysis.i18n import text

    for lang in ("en", "nl"):
        (regions,) = [
            f for f in figures[lang] if "yaxis2" in f["layout"] and not any(t.get("type") == "choropleth" for t in f["data"])
        ]
        title = regions["layout"]["yaxis"]["title"]["text"]
        assert title == text(lang, "axis_statements_model").replace(", ", ",<br>"), title
        hovers = [t.get("hovertemplate") or "" for t in regions["data"]]
        assert not any("still without service" in h or "zonder dienst" in h for h in hovers)
    b = dataclasses.replace(default_analysis, params=dataclasses.replace(default_analysis.params, language="en"))
    html = "\n".join(p for p in sections.geography(b) if isinstance(p, str))
    assert text("en", "g_regions_caption_curated") in html and text("en", "g_regions_caption") not in html

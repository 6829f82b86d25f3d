"""OpenSearch's query DSL as far as bucketlens sends it, evaluated over stored documents, and the k-NN
plugin's rules, for the domain stand-in (tests/search_standin.py): openmock evaluates neither nested,
geo-distance, phrase nor k-NN queries.

Sources, the OpenSearch documentation: the term, range, nested, match_phrase, geo_distance and ids queries;
"k-NN query" (k from 1 to 10,000, a filter applied during the search), "Spaces" (cosinesimil: d = 1 - cosine,
score = (2 - d) / 2, a zero vector refused), "k-NN vector" (a method needs `index.knn: true`, a vector of
another dimension is refused).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

K_MAX = 10_000
EARTH_KM = 6371.0088


class QueryError(Exception):
    """A request OpenSearch answers with HTTP 400: `kind` is its error type."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.reason = kind, reason

    def answer(self) -> dict[str, Any]:
        return {"error": {"type": self.kind, "reason": self.reason}, "status": 400}


# --- mappings ----------------------------------------------------------------------------------------


def check_mapping(settings: Mapping[str, Any], properties: Mapping[str, Any]) -> None:
    """A knn_vector field with a method needs an index made with `index.knn: true`."""
    knn = str((settings.get("index") or {}).get("knn", settings.get("index.knn", False))).lower() == "true"
    for name, prop in properties.items():
        if prop.get("type") == "knn_vector" and "method" in prop and not knn:
            raise QueryError(
                "mapper_parsing_exception",
                f"Cannot set modelId or method parameters when index.knn setting is false [{name}]",
            )


def check_document(doc: Mapping[str, Any], properties: Mapping[str, Any]) -> None:
    """Each knn_vector of the document has the field's dimension, and a cosine one is not all zeros."""
    for name, prop in properties.items():
        if prop.get("type") != "knn_vector" or name not in doc:
            continue
        vector = doc[name]
        if len(vector) != prop["dimension"]:
            raise QueryError(
                "mapper_parsing_exception",
                f"Vector dimension mismatch. Expected: {prop['dimension']}, Given: {len(vector)}",
            )
        if _space(prop) == "cosinesimil" and not any(vector):
            raise QueryError("mapper_parsing_exception", "zero vector is not supported for cosinesimil")


def _space(prop: Mapping[str, Any]) -> str:
    return str((prop.get("method") or {}).get("space_type") or prop.get("space_type") or "l2")


# --- queries -----------------------------------------------------------------------------------------


def search(
    body: Mapping[str, Any], docs: Mapping[str, dict], properties: Mapping[str, Any]
) -> list[tuple[str, float, dict]]:
    """(id, score, source) of the hits, best first, at most `size` (10 by default)."""
    query = body.get("query") or {"match_all": {}}
    size = int(body.get("size", 10))
    if "knn" in query:
        hits = _knn(query["knn"], docs, properties)
    else:
        hits = [(i, 1.0, d) for i, d in docs.items() if matches(query, i, d, properties)]
    return [(i, score, _source(d, body.get("_source"))) for i, score, d in hits[:size]]


def _source(doc: dict, wanted: Any) -> dict:
    if wanted is None or wanted is True:
        return doc
    if isinstance(wanted, list):
        return {k: v for k, v in doc.items() if k in wanted}
    excluded = set(wanted.get("excludes") or ())
    return {k: v for k, v in doc.items() if k not in excluded}


def _knn(spec: Mapping[str, Any], docs: Mapping[str, dict], properties: Mapping[str, Any]) -> list:
    ((field, params),) = spec.items()
    prop = properties.get(field) or {}
    if prop.get("type") != "knn_vector":
        raise QueryError("illegal_argument_exception", f"Field '{field}' is not knn_vector type.")
    vector, k = params["vector"], int(params["k"])
    if not 1 <= k <= K_MAX:
        raise QueryError("illegal_argument_exception", f"[knn] requires k to be in the range (0, {K_MAX}]")
    if len(vector) != prop["dimension"]:
        raise QueryError(
            "illegal_argument_exception",
            f"Query vector has invalid dimension: {len(vector)}. Dimension should be: {prop['dimension']}",
        )
    if _space(prop) != "cosinesimil":
        raise AssertionError("the stand-in scores cosinesimil only")
    if not any(vector):
        raise QueryError("illegal_argument_exception", "zero vector is not supported for cosinesimil")
    where = params.get("filter")
    scored = [
        (i, (2.0 - (1.0 - _cosine(vector, d[field]))) / 2.0, d)
        for i, d in docs.items()
        if field in d and (where is None or matches(where, i, d, properties))
    ]
    return sorted(scored, key=lambda hit: -hit[1])[:k]


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def matches(
    query: Mapping[str, Any], doc_id: str, doc: Mapping[str, Any], properties: Mapping[str, Any]
) -> bool:
    """Whether the document passes the query (all of a bool's filter and must, none of its must_not)."""
    ((kind, spec),) = query.items()
    if kind == "match_all":
        return True
    if kind == "bool":
        return all(
            matches(q, doc_id, doc, properties)
            for q in _listed(spec.get("filter")) + _listed(spec.get("must"))
        ) and not any(matches(q, doc_id, doc, properties) for q in _listed(spec.get("must_not")))
    if kind == "ids":
        return doc_id in spec["values"]
    if kind == "nested":
        path = spec["path"]
        inner = (properties.get(path) or {}).get("properties") or {}
        prefixed = {f"{path}.{name}": prop for name, prop in inner.items()}
        return any(
            matches(spec["query"], doc_id, {f"{path}.{k}": v for k, v in element.items()}, prefixed)
            for element in doc.get(path) or ()
        )
    if kind == "geo_distance":
        return geo_matches(spec, doc)
    ((field, value),) = spec.items()
    values = list(_values(doc, field))
    if kind == "term":
        wanted = _normalised(value, properties.get(field))
        return any(_normalised(v, properties.get(field)) == wanted for v in values)
    if kind == "range":
        return any(all(_compare(op, v, bound) for op, bound in value.items()) for v in values)
    if kind == "match_phrase":
        phrase = _tokens(str(value))
        return any(_contains(_tokens(str(v)), phrase) for v in values)
    raise AssertionError(f"the stand-in does not evaluate {kind}")


def _listed(clauses: Any) -> list:
    return [] if clauses is None else clauses if isinstance(clauses, list) else [clauses]


def _values(doc: Mapping[str, Any], field: str) -> Iterator[Any]:
    value = doc.get(field)
    if value is None:
        return
    yield from value if isinstance(value, list) else [value]


def _normalised(value: Any, prop: Mapping[str, Any] | None) -> Any:
    return (
        value.lower() if isinstance(value, str) and (prop or {}).get("normalizer") == "lowercase" else value
    )


def _compare(op: str, value: Any, bound: Any) -> bool:
    if isinstance(bound, str):
        value = str(value)
    return {"gte": value >= bound, "gt": value > bound, "lte": value <= bound, "lt": value < bound}[op]


def _tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _contains(tokens: list[str], phrase: list[str]) -> bool:
    return any(tokens[i : i + len(phrase)] == phrase for i in range(len(tokens) - len(phrase) + 1))


def geo_matches(spec: Mapping[str, Any], doc: Mapping[str, Any]) -> bool:
    """geo_distance: the document's point within the distance (km) of the centre, great-circle."""
    distance = float(str(spec["distance"]).removesuffix("km"))
    ((field, centre),) = ((k, v) for k, v in spec.items() if k != "distance")
    point = doc.get(field)
    if not point:
        return False
    lat1, lon1, lat2, lon2 = map(math.radians, (centre["lat"], centre["lon"], point["lat"], point["lon"]))
    a = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_KM * math.asin(math.sqrt(a)) <= distance

"""The OpenAPI description of the service (``/openapi.json``, shown at ``/docs``), with the request and
answer of ``POST /predict`` generated from the schema of the model being served: every feature with
its type, its training range or categories and an example value, and every identifier."""

from __future__ import annotations

import json
import math
from typing import Any

from churnctl.contract.schema import ColumnSpec, Schema

PREDICTION_FIELDS: dict[str, dict[str, Any]] = {
    "churn_probability": {"type": "number", "minimum": 0, "maximum": 1, "description": "Churn probability."},
    "churn_label": {"type": "integer", "enum": [0, 1], "description": "1 from the model's decision threshold."},
    "risk_level": {
        "type": "string",
        "enum": ["low", "medium", "high"],
        "description": "low below the threshold, medium from it, high from [predict] high_risk.",
    },
    "confidence": {"type": "number", "minimum": 0, "maximum": 1, "description": "0 at the threshold, 1 at 0 or 1."},
    "model_version": {"type": "string", "description": "The version that answered."},
    "reasons": {
        "type": "array",
        "description": "With ?explain=true: the top 3 features by effect on the probability.",
        "items": {
            "type": "object",
            "properties": {
                "feature": {"type": "string"},
                "value": {"description": "The value as sent."},
                "effect": {"type": "number", "description": "Probability minus that with the typical value."},
            },
        },
    },
}


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Error",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "What went wrong."},
        "hint": {"type": "string", "description": "What to do about it."},
    },
}
PROBLEMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problems",
    "required": ["detail"],
    "properties": {
        "detail": {
            "type": "array",
            "description": "One entry per problem, each naming the field and the rows it was found in.",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": "string"}, "example": ["body", "Age"]},
                    "msg": {"type": "string", "example": "request: column 'Age' expects numbers, found 'x' in row 1"},
                    "type": {"type": "string", "example": "not_a_number"},
                    "rows": {"type": "array", "items": {"type": "integer"}, "description": "Rows (from 1), up to 100."},
                    "n_rows": {"type": "integer", "description": "How many rows have the problem."},
                },
            },
        },
        "hint": {"type": "string", "description": "What to do about it."},
    },
}
FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")  # FastAPI's own 422 body, which /predict never sends


def _answer(description: str, schema: str) -> dict[str, Any]:
    reference = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": description, "content": {"application/json": {"schema": reference}}}


def example_value(spec: ColumnSpec) -> Any:
    """A plausible value of a feature: its training mean (a flag's most common value), or its most
    frequent category."""
    if spec.dtype == "number":
        if spec.mean is None or not math.isfinite(spec.mean):
            return 0
        if spec.kind == "binary":
            return int(spec.mean >= 0.5)
        if spec.integer:  # an age or a count: a whole number, as the training rows hold
            return round(spec.mean)
        return round(spec.mean, 2) if abs(spec.mean) < 1e6 else spec.mean
    counts = spec.categories or {}
    return max(counts, key=lambda c: counts[c]) if counts else "value"


def _feature_schema(spec: ColumnSpec) -> dict[str, Any]:
    if spec.dtype == "number":
        described = "0 or 1" if spec.kind == "binary" else "a number"
        if spec.minimum is not None and spec.maximum is not None:
            described += f"; in training from {spec.minimum:g} to {spec.maximum:g}"
        schema: dict[str, Any] = {"type": ["number", "null"], "description": described + "; null if missing."}
    else:
        known = sorted(spec.categories or {})
        listed = ", ".join(known[:20]) + (f" (+{len(known) - 20} more)" if len(known) > 20 else "")
        schema = {
            "type": ["string", "number", "boolean", "null"],
            "description": f"A category; in training: {listed}. Others are scored as unknown; null if missing.",
        }
    schema["example"] = example_value(spec)
    return schema


def customer_schema(schema: Schema) -> dict[str, Any]:
    properties = {spec.name: _feature_schema(spec) for spec in schema.features}
    for name in schema.identifier_names:
        properties[name] = {"description": "Identifier: not used by the model, echoed in the answer."}
    return {
        "type": "object",
        "title": "Customer",
        "required": schema.feature_names,
        "properties": properties,
        "additionalProperties": True,
    }


def prediction_schema(schema: Schema) -> dict[str, Any]:
    properties = {name: {"description": "Identifier, as sent."} for name in schema.identifier_names}
    properties.update(PREDICTION_FIELDS)
    required = ["churn_probability", "churn_label", "risk_level", "confidence", "model_version"]
    return {"type": "object", "title": "Prediction", "required": required, "properties": properties}


def add_model(document: dict[str, Any], schema: Schema | None, version: str | None, secured: bool) -> dict[str, Any]:
    """The generated document with ``POST /predict`` described for ``schema`` (None: no model yet)."""
    components = document.setdefault("components", {}).setdefault("schemas", {})
    if schema is not None:
        components["Customer"] = customer_schema(schema)
        components["Prediction"] = prediction_schema(schema)
        example = {spec.name: example_value(spec) for spec in schema.features}
    else:
        components["Customer"] = {"type": "object", "description": "No model is loaded: the fields are unknown."}
        components["Prediction"] = {"type": "object", "properties": PREDICTION_FIELDS}
        example = {}
    one, many = {"$ref": "#/components/schemas/Customer"}, {"$ref": "#/components/schemas/Prediction"}
    operation = document["paths"]["/predict"]["post"]
    operation["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"oneOf": [one, {"type": "array", "items": one, "minItems": 1}]},
                "examples": {"one customer": {"value": example}, "a list": {"value": [example, example]}},
            }
        },
    }
    operation["responses"] = {
        "200": {
            "description": "One prediction for one object, a list for a list (in the same order).",
            "content": {"application/json": {"schema": {"oneOf": [many, {"type": "array", "items": many}]}}},
        },
        "401": _answer("The API key is missing or wrong.", "Error"),
        "413": _answer("The body is larger than [serve] max_body_bytes.", "Error"),
        "422": _answer("The body is not JSON, or a field is missing or has the wrong type.", "Problems"),
        "503": _answer("No model is loaded.", "Error"),
    }
    components["Error"], components["Problems"] = ERROR_SCHEMA, PROBLEMS_SCHEMA
    paths = json.dumps(document["paths"])
    for name in FASTAPI_VALIDATION:
        if f"#/components/schemas/{name}" not in paths:
            components.pop(name, None)
    if version is not None:
        document["info"]["description"] += f"\n\nServing model **{version}**."
    if secured:
        document["components"]["securitySchemes"] = {
            "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "Bearer": {"type": "http", "scheme": "bearer"},
        }
        for path, operations in document["paths"].items():
            if path != "/health":
                for spec in operations.values():
                    spec["security"] = [{"ApiKey": []}, {"Bearer": []}]
    return document

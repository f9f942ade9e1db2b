"""Check PSD2 sandbox responses against the Berlin Group NextGenPSD2 OpenAPI file (1.3.12).

The YAML is read in place from ../shared (tests/conftest.py finds the folder); it is never
copied here. Bodies are validated with openapi-schema-validator's OAS 3.0 validator (response
flavour: writeOnly properties are refused, `nullable` honoured, date/date-time/uuid formats
checked) and `referencing` resolving the spec's own `$ref`s, so the schemas apply exactly as
written: where the file leaves `additionalProperties` unset, extra fields are allowed.

Measured on the 2-core dev machine: import ~0.6 s (most of it tests.conftest's own imports),
`load_spec` ~0.13 s with libyaml's CSafeLoader, first `check` ~1 ms; 0.7 s in all.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import httpx
import yaml
from jsonschema.exceptions import ValidationError, relevance
from openapi_schema_validator import OAS30ReadValidator, oas30_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.conftest import need_shared

SPEC_IN_SHARED: Final = Path("specs", "psd2", "psd2-api_v1.3.12-2022-07-06.yaml")

_METHODS: Final = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
# Statuses that HTTP itself forbids a body for, whatever the spec declares.
_BODYLESS: Final = frozenset({204, 304})
_MAX_ERRORS: Final = 10
JSON_TYPE: Final = "application/json"

__all__ = [
    "SPEC_IN_SHARED",
    "BerlinGroupSpec",
    "RecordedResponse",
    "ResponseRecorder",
    "load_spec",
    "shared_spec",
    "spec_path",
]


def spec_path(shared_dir: Path) -> Path:
    return shared_dir / SPEC_IN_SHARED


def shared_spec() -> BerlinGroupSpec:
    """The spec in ../shared; skips (fails on CI) like every other shared-folder test."""
    return load_spec(spec_path(need_shared()))


def load_spec(path: str | os.PathLike[str]) -> BerlinGroupSpec:
    """Parsed once per file and process: the YAML is ~14k lines."""
    return _load_cached(Path(path).resolve())


@functools.cache
def _load_cached(path: Path) -> BerlinGroupSpec:
    # libyaml's loader parses the file ~10x faster than the pure-Python one.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open("rb") as handle:
        document = yaml.load(handle, Loader=loader)
    return BerlinGroupSpec(document, uri=path.as_uri())


@dataclass(frozen=True)
class _Template:
    path: str
    segments: tuple[re.Pattern[str], ...]
    # One flag per segment, True when literal: tuples compare so that a literal segment
    # earlier in the path outranks a parameter there, which is how OpenAPI says concrete
    # paths win over templated ones.
    literal: tuple[bool, ...]
    params: tuple[str | None, ...]


def _compile_template(path: str) -> _Template:
    segments: list[re.Pattern[str]] = []
    literal: list[bool] = []
    params: list[str | None] = []
    for part in path.strip("/").split("/"):
        names = re.findall(r"\{([^}]+)\}", part)
        pieces = re.split(r"\{[^}]+\}", part)
        regex = "".join(
            re.escape(piece) + (f"(?P<p{i}>[^/]+)" if i < len(names) else "")
            for i, piece in enumerate(pieces)
        )
        segments.append(re.compile(regex))
        literal.append(not names)
        # Only whole-segment parameters are checked against their schema; BG has no others.
        params.append(names[0] if len(names) == 1 and part == "{" + names[0] + "}" else None)
    return _Template(path, tuple(segments), tuple(literal), tuple(params))


def _pointer(*parts: str) -> str:
    escaped = (p.replace("~", "~0").replace("/", "~1") for p in parts)
    # referencing percent-decodes fragments, so a literal '%' in a key must survive that.
    return "#/" + "/".join(quote(p, safe="~{}!$&'()*+,;=:@") for p in escaped)


def _media_type(content_type: str | None) -> str | None:
    if content_type is None:
        return None
    bare = content_type.split(";", 1)[0].strip().lower()
    return bare or None


def _is_json(media_type: str) -> bool:
    return media_type == JSON_TYPE or media_type.endswith("+json")


class BerlinGroupSpec:
    """One parsed NextGenPSD2 OpenAPI document; `check` raises AssertionError on a mismatch."""

    def __init__(self, document: Mapping[str, Any], uri: str = "urn:kvits:bg-openapi") -> None:
        self.document = document
        self.uri = uri
        self.version = str(document.get("info", {}).get("version", "?"))
        # Draft 4 is the id/$ref model OpenAPI 3.0 schemas follow.
        resource: Resource[Any] = Resource.from_contents(document, default_specification=DRAFT4)
        self._registry: Registry[Any] = Registry().with_resource(uri, resource)
        self._templates = [_compile_template(p) for p in document.get("paths", {})]
        self._validators: dict[str, Any] = {}

    # ------------------------------------------------------------------ lookup

    def _deref(self, node: Any, where: str) -> tuple[Any, str]:
        """Follow local $refs, keeping the pointer of what was reached for messages and
        for validation (so that the schema's own relative $refs resolve in this document)."""
        seen: set[str] = set()
        while isinstance(node, Mapping) and "$ref" in node:
            ref = str(node["$ref"])
            if not ref.startswith("#/") or ref in seen:
                raise AssertionError(f"unsupported or circular $ref {ref!r} at {where}")
            seen.add(ref)
            node = self._registry.resolver(self.uri).lookup(ref).contents
            where = ref
        return node, where

    def _param_schemas(self, template: str) -> dict[str, list[str]]:
        """Path parameter -> pointers to the schemas its operations declare for it."""
        item = self.document["paths"][template]
        base = _pointer("paths", template)
        found: dict[str, list[str]] = {}
        groups = [(item.get("parameters") or [], f"{base}/parameters")]
        groups += [
            (op.get("parameters") or [], f"{base}/{m}/parameters")
            for m, op in item.items()
            if m in _METHODS and isinstance(op, Mapping)
        ]
        for params, where in groups:
            for i, raw in enumerate(params):
                param, at = self._deref(raw, f"{where}/{i}")
                if param.get("in") == "path" and "schema" in param:
                    found.setdefault(str(param["name"]), []).append(f"{at}/schema")
        return found

    def _param_rejection(self, template: _Template, parts: list[str]) -> str | None:
        schemas = self._param_schemas(template.path)
        for name, value in zip(template.params, parts, strict=True):
            if name is None or name not in schemas:
                continue
            # A parameter with several declarations is fine if any operation accepts it.
            failures = [self._first_error(schema, value) for schema in schemas[name]]
            if all(failures):
                return f"{{{name}}}={value!r}: {failures[0]}"
        return None

    def _first_error(self, schema_ptr: str, value: str) -> str | None:
        error = next(iter(self._validator(schema_ptr).iter_errors(value)), None)
        return None if error is None else error.message

    def match(self, method: str, path: str) -> str:
        """The spec's path template for a request path ('/v1/...'), literal segments first;
        AssertionError when no template fits or the template lacks the method."""
        parts = path.split("?", 1)[0].strip("/").split("/")
        fitting = [
            t
            for t in self._templates
            if len(t.segments) == len(parts)
            and all(seg.fullmatch(part) for seg, part in zip(t.segments, parts, strict=True))
        ]
        if not fitting:
            raise AssertionError(
                f"{method.upper()} {path}: not a Berlin Group path "
                f"(no template of spec {self.version} fits it)"
            )
        fitting.sort(key=lambda t: t.literal, reverse=True)
        rejected: list[str] = []
        for template in fitting:
            reason = self._param_rejection(template, parts)
            if reason is None:
                break
            rejected.append(f"{template.path} ({reason})")
        else:
            raise AssertionError(
                f"{method.upper()} {path}: not a Berlin Group path; templates of the right "
                f"shape refuse its parameters: {'; '.join(rejected)}"
            )
        item = self.document["paths"][template.path]
        if method.lower() not in item:
            declared = sorted(m.upper() for m in item if m in _METHODS)
            raise AssertionError(
                f"{method.upper()} {path}: the spec's {template.path} has no "
                f"{method.upper()} operation (declared: {', '.join(declared)})"
            )
        return template.path

    def _response(self, method: str, template: str, status: int) -> tuple[Any, str, str]:
        """(response object, its pointer, the key it was found under)."""
        op_ptr = _pointer("paths", template, method.lower())
        responses = self.document["paths"][template][method.lower()].get("responses", {})
        by_key = {str(k).upper(): k for k in responses}
        # Exact code, then the OpenAPI range form (4XX), then default.
        for key in (str(status), f"{str(status)[0]}XX", "DEFAULT"):
            if key in by_key:
                raw_key = by_key[key]
                where = f"{op_ptr}/responses/{raw_key}"
                node, where = self._deref(responses[raw_key], where)
                return node, where, str(raw_key)
        listed = ", ".join(str(k) for k in responses)
        raise AssertionError(
            f"{method.upper()} {template}: status {status} is not in the spec's responses "
            f"({listed}) and the operation has no default response"
        )

    # ------------------------------------------------------------------ checking

    def check(
        self,
        method: str,
        path: str,
        status: int,
        content_type: str | None,
        body: bytes | dict[str, Any] | None,
    ) -> None:
        """Raise AssertionError unless the response fits the spec's operation and status.

        JSON bodies (application/json, application/problem+json) are validated against the
        declared schema; other media types only need to be declared; a status declared
        without content accepts any body except for 204/304, which must be empty."""
        template = self.match(method, path)
        response, where, key = self._response(method, template, status)
        head = f"{method.upper()} {path} -> {status}"
        origin = f"spec {self.version}: {method.upper()} {template}, response {key!r}"
        has_body = body not in (None, b"")
        if status in _BODYLESS:
            if has_body:
                raise AssertionError(f"{head}: must have no body, got {_preview(body)}")
            return
        content: Mapping[str, Any] = response.get("content") or {}
        if not content:
            return
        if not has_body:
            raise AssertionError(f"{head}: empty body, but {origin} declares {', '.join(content)}")
        # A dict can only have come from JSON, even when the caller had no header to pass.
        media = _media_type(content_type) or (JSON_TYPE if isinstance(body, dict) else None)
        if media is None:
            raise AssertionError(f"{head}: a body without Content-Type ({origin})")
        declared = next((k for k in content if fnmatch.fnmatchcase(media, str(k).lower())), None)
        if declared is None:
            raise AssertionError(
                f"{head}: Content-Type {media} is not declared by {origin} "
                f"(declared: {', '.join(content)})"
            )
        if not _is_json(media) or "schema" not in content[declared]:
            return
        instance = _json_body(body, head)
        schema_ptr = f"{where}/content/{_pointer(str(declared))[2:]}/schema"
        shown = content[declared]["schema"].get("$ref", schema_ptr)
        found = self._validator(schema_ptr).iter_errors(instance)
        errors = sorted(found, key=relevance, reverse=True)
        if errors:
            lines = [f"{head} ({media}) does not match {origin}, schema {shown}:"]
            lines += [_describe(e) for e in errors[:_MAX_ERRORS]]
            if len(errors) > _MAX_ERRORS:
                lines.append(f"  ... and {len(errors) - _MAX_ERRORS} more")
            raise AssertionError("\n".join(lines))

    def _validator(self, schema_ptr: str) -> Any:
        if schema_ptr not in self._validators:
            self._validators[schema_ptr] = OAS30ReadValidator(
                {"$ref": self.uri + schema_ptr},
                registry=self._registry,
                format_checker=oas30_format_checker,
            )
        return self._validators[schema_ptr]


def _json_body(body: bytes | dict[str, Any] | None, head: str) -> Any:
    if isinstance(body, dict):
        return body
    assert body is not None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise AssertionError(f"{head}: body is not JSON ({exc}): {_preview(body)}") from None


def _describe(error: ValidationError) -> str:
    line = f"  {error.json_path}: {_clip(error.message)} [{error.validator}]"
    if error.context:
        # oneOf/anyOf: "not valid under any" alone hides why; give each branch's best reason.
        branches = error.validator_value if isinstance(error.validator_value, list) else []
        by_branch: dict[int, list[ValidationError]] = {}
        for sub in error.context:
            by_branch.setdefault(int(sub.relative_schema_path[0]), []).append(sub)
        for index, subs in sorted(by_branch.items()):
            best = max(subs, key=relevance)
            branch = branches[index] if index < len(branches) else {}
            label = branch.get("$ref", f"branch {index}") if isinstance(branch, Mapping) else index
            line += (
                f"\n    under {label}: {best.json_path}: {_clip(best.message)} [{best.validator}]"
            )
    return line


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _preview(body: bytes | dict[str, Any] | None) -> str:
    return _clip(json.dumps(body) if isinstance(body, dict) else repr(body), 200)


# ---------------------------------------------------------------------- recording


@dataclass(frozen=True)
class RecordedResponse:
    method: str
    path: str
    status: int
    content_type: str | None
    body: bytes
    base_path: str


@dataclass
class ResponseRecorder:
    """Keeps every response an httpx client (or a starlette TestClient) sees, to check them
    all against the spec at the end of a test. Use `attach(client)`, or pass the recorder
    itself as `event_hooks={"response": [recorder]}`, or call `record` by hand."""

    base_path: str = ""
    responses: list[RecordedResponse] = field(default_factory=list)

    def __call__(self, response: httpx.Response) -> None:
        self.record(response)

    def attach(self, client: httpx.Client) -> httpx.Client:
        # TestClient takes no event_hooks argument; the live mapping accepts additions.
        client.event_hooks["response"].append(self)
        return client

    def record(self, response: httpx.Response, base_path: str | None = None) -> None:
        """Keep one response; base_path (default: the recorder's) is where /v1/ starts."""
        # Response hooks run before httpx reads the body; reading here caches it for the caller.
        body = response.read()
        self.responses.append(
            RecordedResponse(
                method=response.request.method,
                path=response.request.url.path,
                status=response.status_code,
                content_type=response.headers.get("content-type"),
                body=body,
                base_path=(self.base_path if base_path is None else base_path).rstrip("/"),
            )
        )

    def bg_responses(self) -> Iterable[tuple[str, RecordedResponse]]:
        """(path from /v1 on, response) for the responses under their base_path + '/v1/'."""
        for recorded in self.responses:
            if recorded.path.startswith(recorded.base_path + "/v1/"):
                yield recorded.path[len(recorded.base_path) :], recorded

    def check_all(self, spec: BerlinGroupSpec) -> int:
        """Check every recorded Berlin Group response; all failures in one AssertionError."""
        failures: list[str] = []
        count = 0
        for path, r in self.bg_responses():
            count += 1
            try:
                spec.check(r.method, path, r.status, r.content_type, r.body)
            except AssertionError as exc:
                failures.append(str(exc))
        if failures:
            raise AssertionError(
                f"{len(failures)} of {count} recorded responses do not match the spec:\n"
                + "\n".join(failures)
            )
        return count

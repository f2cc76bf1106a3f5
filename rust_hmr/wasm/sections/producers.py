"""The `producers` and `target_features` custom sections (tool-conventions)."""

from dataclasses import dataclass

from rust_hmr.wasm.errors import bad_byte
from rust_hmr.wasm.reader import Reader
from rust_hmr.wasm.writer import Writer

Producers = dict[str, list[tuple[str, str]]]
"""Field ("language", "processed-by", "sdk") -> list of (name, version), in file order."""


def read_producers(r: Reader) -> Producers:
    fields: Producers = {}
    for _ in range(r.count("producers field")):
        name = r.name("producers field name")
        fields[name] = r.vec(
            lambda r: (r.name("producer name"), r.name("producer version")), "producer")
    return fields


def write_producers(w: Writer, fields: Producers) -> None:
    w.u32(len(fields))
    for name, values in fields.items():
        w.name(name)
        w.vec(values, _write_producer)


def _write_producer(w: Writer, value: tuple[str, str]) -> None:
    name, version = value
    w.name(name)
    w.name(version)


_PREFIXES = {ord("+"): "+", ord("-"): "-", ord("="): "="}


@dataclass(frozen=True)
class TargetFeature:
    prefix: str  # "+" used, "-" must not be used, "=" required by all linked objects
    name: str


def _read_feature(r: Reader) -> TargetFeature:
    byte = r.u8("target feature prefix")
    if byte not in _PREFIXES:
        raise bad_byte("target feature prefix", byte, r.offset - 1)
    return TargetFeature(_PREFIXES[byte], r.name("target feature name"))


def read_target_features(r: Reader) -> list[TargetFeature]:
    return r.vec(_read_feature, "target feature")


def write_target_features(w: Writer, features: list[TargetFeature]) -> None:
    w.vec(features, _write_feature)


def _write_feature(w: Writer, feature: TargetFeature) -> None:
    w.u8(ord(feature.prefix))
    w.name(feature.name)

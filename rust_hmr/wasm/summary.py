"""What a wasm module or object holds, for people and for `rust-hmr inspect --json`."""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rust_hmr.wasm.demangle import demangle
from rust_hmr.wasm.module import RELOC_PREFIX, WasmFile, decode_all
from rust_hmr.wasm.sections.imports import ExternKind, Import
from rust_hmr.wasm.sections.linking import Linking, Symbol, SymbolFlags, SymbolKind
from rust_hmr.wasm.sections.reloc import RelocSection

COUNTED = ("types", "imports", "functions", "tables", "memories", "globals", "exports",
           "elements", "data")
# count name -> the section whose entries it counts
_COUNTED_SECTIONS = {"types": "type", "imports": "import", "functions": "function",
                     "tables": "table", "memories": "memory", "globals": "global",
                     "exports": "export", "elements": "element", "data": "data"}
_SYMBOL_KINDS_WITH_IMPORTS = {
    SymbolKind.FUNCTION: ExternKind.FUNCTION,
    SymbolKind.GLOBAL: ExternKind.GLOBAL,
    SymbolKind.TABLE: ExternKind.TABLE,
    SymbolKind.TAG: ExternKind.TAG,
}


@dataclass(frozen=True)
class SymbolRow:
    name: str
    demangled: str
    kind: str
    defined: bool
    flags: list[str]


@dataclass
class Summary:
    kind: str
    size: int
    sections: list[tuple[str, int]]
    counts: dict[str, int]
    symbols: list[SymbolRow] | None
    relocations: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "size": self.size,
            "sections": [{"name": n, "size": s} for n, s in self.sections],
            "counts": self.counts,
            "symbols": None if self.symbols is None else [vars(s) for s in self.symbols],
            "relocations": self.relocations,
        }


def flag_names(flags: SymbolFlags) -> list[str]:
    known = [f.name for f in SymbolFlags if f.name and flags & f]
    unknown = int(flags) & ~sum(int(f) for f in SymbolFlags)
    return known + ([f"{unknown:#x}"] if unknown else [])


def symbol_name(symbol: Symbol, wasm: WasmFile, imports_by_kind: dict[ExternKind, list[Import]]
                ) -> str:
    """A symbol's name; where the format leaves it out, its import's or its section's name."""
    if symbol.name is not None:
        return symbol.name
    if symbol.kind is SymbolKind.SECTION:
        index = symbol.index or 0
        return wasm.sections[index].name if index < len(wasm.sections) else f"<section {index}>"
    imported = imports_by_kind.get(_SYMBOL_KINDS_WITH_IMPORTS[symbol.kind], [])
    index = symbol.index or 0
    return imported[index].field if index < len(imported) else f"<{symbol.kind} {index}>"


def summarize(wasm: WasmFile, size: int) -> Summary:
    """Decode the whole file (raises WasmDecodeError) and describe it."""
    decode_all(wasm)
    counts = {key: len(wasm.decoded(section, [])) for key, section in _COUNTED_SECTIONS.items()}
    imports: list[Import] = wasm.decoded("import", [])
    imports_by_kind: dict[ExternKind, list[Import]] = {}
    for imp in imports:
        imports_by_kind.setdefault(imp.kind, []).append(imp)
    linking: Linking | None = wasm.decoded("linking")
    symbols = None
    if linking is not None:
        symbols = []
        for sym in linking.symbols:
            name = symbol_name(sym, wasm, imports_by_kind)
            symbols.append(SymbolRow(name, demangle(name) or name, str(sym.kind), sym.defined,
                                     flag_names(sym.flags)))
    relocations = {}
    for section in wasm.custom(RELOC_PREFIX):
        rel: RelocSection = section.decode()
        by_type = Counter(r.type.full_name for r in rel.entries)
        relocations[section.name] = dict(sorted(by_type.items()))
    return Summary(
        kind=wasm.kind,
        size=size,
        sections=[(s.name, len(s.payload)) for s in wasm.sections],
        counts=counts,
        symbols=symbols,
        relocations=relocations,
    )


def format_text(summary: Summary, path: str, symbol_limit: int | None = 40) -> str:
    """The summary as a person reads it: sections, counts, relocations, symbols."""
    lines = [f"{path}: wasm {summary.kind}, {summary.size:,} bytes", "", "sections:"]
    width = max((len(n) for n, _ in summary.sections), default=0)
    lines += [f"  {name:<{width}}  {size:>12,} bytes" for name, size in summary.sections]
    lines += ["", "counts: " + ", ".join(f"{summary.counts[k]:,} {k}" for k in COUNTED)]
    if summary.relocations:
        lines += ["", "relocations:"]
        for section, by_type in summary.relocations.items():
            total = sum(by_type.values())
            detail = ", ".join(f"{n:,} {t.removeprefix('R_WASM_')}" for t, n in by_type.items())
            lines.append(f"  {section}: {total:,} ({detail})")
    if summary.symbols is not None:
        lines += ["", _symbol_heading(summary.symbols)]
        shown = summary.symbols if symbol_limit is None else summary.symbols[:symbol_limit]
        for s in shown:
            state = "defined  " if s.defined else "undefined"
            extra = f"  [{' '.join(f.lower() for f in s.flags)}]" if s.flags else ""
            lines.append(f"  {s.kind:<8} {state} {s.demangled}{extra}")
        if len(shown) < len(summary.symbols):
            lines.append(f"  ... {len(summary.symbols) - len(shown):,} more (--all shows them)")
    return "\n".join(lines)


def _symbol_heading(symbols: list[SymbolRow]) -> str:
    by_kind = Counter(s.kind for s in symbols)
    undefined = sum(not s.defined for s in symbols)
    kinds = ", ".join(f"{n:,} {k}" for k, n in by_kind.most_common())
    return f"symbols: {len(symbols):,} ({kinds}; {undefined:,} undefined)"

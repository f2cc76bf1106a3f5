"""What a rebuild gives: a `Patch` to apply, or a `FullReload` with its reason."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Patch:
    """A patch module that runs against the live main module; instantiating it applies it.

    The one record of a patch: the linker makes it (`link_patch`: `id`, `module`, `functions`,
    `placed_bytes`, `ledger_*`), `Project.rebuild()` completes it (`objects`, `timings`,
    `changed`), `Host.apply` and the dev server take it. `id` counts the patches of the build
    (1, 2, ...). `functions` names (demangled) the functions whose slots it writes: every hot
    function of the recompiled codegen units; `changed` those, or new ones, whose code differs.
    `ledger_*` say how much of the reserved room is in use after it.

    An `empty` patch is the one answer when no codegen unit differs from the live code, whether
    or not cargo recompiled: no module, no functions, nothing to apply or send; its `id` is the
    last patch's (0: none yet).
    """

    id: int
    module: bytes
    functions: tuple[str, ...] = ()
    objects: tuple[str, ...] = ()
    timings: dict[str, float] = field(default_factory=dict)
    placed_bytes: int = 0
    ledger_memory_used: int = 0
    ledger_slots_used: int = 0
    changed: tuple[str, ...] = ()  # of `functions`, those whose code differs from before

    @property
    def empty(self) -> bool:
        """No codegen unit differs from the live code: there is no module to apply."""
        return not self.module


@dataclass(frozen=True)
class FullReload:
    """The edit can't be patched safely; `reason` says why, naming the symbol."""

    reason: str
    timings: dict[str, float] = field(default_factory=dict)


class PatchRefused(Exception):
    """Raised inside the linker when a patch would not be safe; becomes a FullReload."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

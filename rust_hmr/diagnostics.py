"""cargo's and rustc's output made readable: the one-line summary of a failed build, the
diagnostics with the linker's command line folded away, and the count of errors and warnings.

    summary(stderr)     `error[E0308]: mismatched types at src/lib.rs:12:5`, or the linker's
                        own first error, or what crashed rustc
    readable(stderr)    the diagnostics, without cargo's progress lines, a linker failure's
                        own `error:` lines first and its ~6 KB command line folded to one line
    counts(stderr)      (errors, warnings)
    plain(text)         `text` without terminal colours

A link failure reaches us as rustc's ``error: linking with `…` failed``, then a `note:` with
the whole command line, then the linker's output as more `note:` lines: the cause comes last.
"""

from __future__ import annotations

import re

__all__ = ["counts", "is_progress", "plain", "readable", "summary"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_RUSTC_ERROR = re.compile(r"^error(\[E\d+\])?: ")
_WARNING = re.compile(r"^warning(\[\w+\])?: ")
_LINK_FAILED = re.compile(r"^error: linking with `[^`]*` failed")
_LINKER_ERROR = re.compile(r"(?:wasm-ld|rust-lld|lld|ld)(?:\.\w+)?: error: (?P<text>.*)")
_COMMAND_NOTE = re.compile(r'^(\s*= note: )"[^"]*" ".*')
_ICE = re.compile(r"thread 'rustc' panicked at (?P<text>.*)")
# cargo's progress and bookkeeping lines, never a diagnostic
_PROGRESS = re.compile(r"^\s*(Compiling|Checking|Finished|Blocking|Updating|Downloaded|"
                       r"Downloading|Fresh|Running|Building)\b")
_BOOKKEEPING = re.compile(r"^(error: could not compile|warning: build failed|"
                          r"For more information about|Some errors have detailed)")
_SUMMARY_LINE = re.compile(r"^(error|warning): .*generated \d+ warnings?|^(error|warning): "
                           r"aborting due to")


def plain(text: str) -> str:
    return _ANSI.sub("", text)


def is_progress(line: str) -> bool:
    """cargo's `Compiling x v1.0`-like lines."""
    return bool(_PROGRESS.match(plain(line)))


def summary(stderr: str) -> str:
    """The failure as one line, with its place where rustc gives one."""
    lines = plain(stderr).splitlines()
    for i, text in enumerate(lines):
        if _LINK_FAILED.match(text):
            return "link error: " + (_linker_errors(lines[i + 1:])[:1] or
                                     ["the linker failed (its output is below)"])[0]
        if ice := _ICE.search(text):
            return f"rustc crashed (an internal compiler error): panicked at {ice['text']}"
        if _RUSTC_ERROR.match(text) and not _BOOKKEEPING.match(text):
            where = next((ln.strip()[4:] for ln in lines[i + 1:i + 3]
                          if ln.strip().startswith("--> ")), None)
            return f"{text} at {where}" if where else text
    meaningful = (ln.strip() for ln in lines if ln.strip() and not _PROGRESS.match(ln))
    return next(meaningful, "the build failed")


def _linker_errors(lines: list[str]) -> list[str]:
    """The linker's own `error:` lines, each with the `>>>` lines that follow it."""
    found: list[str] = []
    for text in lines:
        if match := _LINKER_ERROR.search(text):
            found.append(match["text"].strip())
        elif found and text.strip().startswith(">>>"):
            found[-1] += " " + text.strip()
    return found


def readable(stderr: str) -> str:
    """The diagnostics as a user wants to read them (colours kept where they were)."""
    out: list[str] = []
    linker_first: list[str] = []
    for line in stderr.splitlines():
        bare = plain(line)
        if _PROGRESS.match(bare):
            continue
        if command := _COMMAND_NOTE.match(bare):
            words = bare.count('" "') + 1
            out.append(f"{command[1]}(the linker's command line, {words} arguments, folded)")
            continue
        if _LINK_FAILED.match(bare):
            linker_first = [f"error: {text}" for text in _linker_errors(
                plain(stderr).splitlines())]
        out.append(line)
    text = "\n".join([*linker_first, *([""] if linker_first else []), *out]).strip("\n")
    return text + "\n" if text else ""


def counts(stderr: str) -> tuple[int, int]:
    """How many errors and warnings rustc reported (not cargo's own closing lines)."""
    errors = warnings = 0
    for line in plain(stderr).splitlines():
        if _BOOKKEEPING.match(line) or _SUMMARY_LINE.match(line) or _LINK_FAILED.match(line):
            errors += bool(_LINK_FAILED.match(line))
            continue
        errors += bool(_RUSTC_ERROR.match(line))
        warnings += bool(_WARNING.match(line))
    return errors, warnings

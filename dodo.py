"""doit tasks for the example crate: `doit bundle` builds examples/counter into
examples/counter/dist/, `doit dev` serves it with hot patching, `doit list` shows the stages."""

from rust_hmr.rules import crate_tasks

globals().update(crate_tasks("examples/counter"))

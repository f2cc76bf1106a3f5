"""Why a main module can't be prepared."""


class PrepareError(RuntimeError):
    """The linked module lacks something the rewrite needs (relocations, a symbol table, room
    to grow); the message says what and how to get it."""

"""The interp example's workload and its catalogue of edits, for tests/differential.py.

Each edit is something a person does to an interpreter in a working day; its `kind` names the
class of patch bug it is meant to provoke:

  body        a builtin's or hook's closure body, a message, a format: the plain case
  renumber    a closure added or removed before others in `install`: rustc names closures by
              their index in the parent, so the later closures' symbols change meaning (class 1)
  layout      a type of the heap state changes shape: an enum variant in the middle of Value, a
              field in Binding (class 2)
  stale       two modules changed at once, then only one (class 3)
  helper      a helper added in one module, then called from another (class 4)
  rename      a type renamed or retyped: every instantiation's symbol renamed (class 5)
  std         a std function the app never called before (class 6)
  signature   a function's signature changed with all its callers
  compile     a compile error (its revert is the fix)

None of them changes what the history stores or what `install` captures (see the principle in
differential.py); the builtins and hooks they add or remove are handled by `comparable`.
"""

from __future__ import annotations

import re

from differential import Change, Edit, Sources, Workload

SPECIAL_FORMS = frozenset({"def", "push", "uses", "hook"})

SETUP = (
    '(def x 5)', '(def y -3)', '(def s "hello")', '(def word "Ferris")', '(def flag true)',
    '(push xs 1)', '(push xs 2)', '(push xs 3)', '(push names "ann")', '(push names "bob")',
    '(push mixed 7)', '(push mixed "seven")', '(def x 6)',
)

PROBES = (
    # builtins, through the fn pointers `install` stored
    '(+ x 1 2)', '(- x y)', '(* x y 2)', '(/ x 2)', '(/ x 0)', '(= x 6)', '(= s "hello")',
    '(< y x)', '(concat s " " word)', '(len s)', '(len xs)', '(list x s)', '(nth xs 1)',
    '(nth xs 9)', '(type-of x)', '(type-of s)', '(type-of xs)', '(max 4 x 9)', '(rev xs)',
    '(rev word)',
    # builtins that edits add
    '(neg x)', '(abs y)', '(sq x)',
    # hooks: boxed closures in the state
    '(hook double x)', '(hook exclaim s)',
    # values read back, formatting
    'xs', 'names', 'mixed', 's', 'flag', '(uses x)',
    # errors and their messages
    '(concat s 1)', '(len x)', '(- 1)', '(foo 1)', 'nope', '(+ 1', ')', '(hook double s)',
)

COUNTERS = ("evals", "bindings", "total_uses", "hook_runs", "builtins")

_BUILTIN = re.compile(r'env\.builtin\(\s*"([^"]+)"')
_HOOK = re.compile(r'env\.hook\(\s*"([^"]+)"')
_HEAD = re.compile(r'\(\s*([^\s()"]+)(?:\s+([^\s()"]+))?')


def registered(sources: Sources) -> tuple[frozenset[str], frozenset[str]]:
    """The builtins and hooks `install` registers in these sources."""
    env = sources["env.rs"]
    return frozenset(_BUILTIN.findall(env)), frozenset(_HOOK.findall(env))


def builtin_count(sources: Sources) -> int:
    """How many builtins `install` registers, a name registered twice counted twice."""
    return len(_BUILTIN.findall(sources["env.rs"]))


def comparable(call: str, live: Sources, reference: Sources) -> bool:
    """Whether `call` means the same in an app whose state `live`'s install made and in the
    reference: every name it calls exists on both sides or on neither."""
    live_builtins, live_hooks = registered(live)
    ref_builtins, ref_hooks = registered(reference)
    if call == "builtins()":
        return live_builtins == ref_builtins and builtin_count(live) == builtin_count(reference)
    for head, second in _HEAD.findall(call):
        if head == "hook":
            if (second in live_hooks) != (second in ref_hooks):
                return False
        elif head not in SPECIAL_FORMS and (head in live_builtins) != (head in ref_builtins):
            return False
    return True


WORKLOAD = Workload(SETUP, PROBES, COUNTERS, comparable)


def edit(name: str, kind: str, *changes: tuple[str, str, str], **extra: object) -> Edit:
    return Edit(name, kind, tuple(Change(*c) for c in changes), **extra)  # type: ignore[arg-type]


_NEG = ('env.builtin("neg", |args| {\n        arity("neg", args, 1)?;\n'
        '        Ok(Value::Int(-int(&args[0])?))\n    });\n    ')


# The catalogue

BODY_PLUS = edit("body: + adds 1000", "body",
                 ("env.rs", "Ok(Value::Int(sum))", "Ok(Value::Int(sum + 1000))"))
BODY_LEN = edit("body: len of a string in bytes, times ten", "body",
                ("env.rs", "Ok(Value::Int(s.chars().count() as i64))",
                 "Ok(Value::Int(s.len() as i64 * 10))"))
BODY_EQ = edit("body: = answers the opposite", "body",
               ("env.rs", "Ok(Value::Bool(args[0] == args[1]))",
                "Ok(Value::Bool(args[0] != args[1]))"))
BODY_HOOK = edit("body: the double hook adds one", "body",
                 ("env.rs", "int(v)? * factor", "int(v)? * factor + 1"))
BODY_EXCLAIM = edit("body: the exclaim hook wraps", "body",
                    ("env.rs", 'format!("{}{}", text(v)?, suffix)',
                     'format!("{}{}{}", suffix, text(v)?, suffix)'))
ADD_FIRST = edit("add builtin neg at the start of install", "renumber",
                 ("env.rs", 'env.builtin("+"', _NEG + 'env.builtin("+"'),
                 forbids=(("env.rs", '"neg"'),))
ADD_MIDDLE = edit("add builtin abs in the middle of install", "renumber",
                  ("env.rs", 'env.builtin("concat"',
                   'env.builtin("abs", |args| {\n        arity("abs", args, 1)?;\n'
                   '        Ok(Value::Int(int(&args[0])?.abs()))\n    });\n'
                   '    env.builtin("concat"'), forbids=(("env.rs", '"abs"'),))
ADD_LAST = edit("add builtin sq after the others (the hooks renumber)", "renumber",
                ("env.rs", "    let factor = 2;",
                 '    env.builtin("sq", |args| {\n        arity("sq", args, 1)?;\n'
                 '        Ok(Value::Int(int(&args[0])? * int(&args[0])?))\n    });\n'
                 "    let factor = 2;"), forbids=(("env.rs", '"sq"'),))
REMOVE_LESS = edit("remove builtin <", "renumber",
                   ("env.rs", '    env.builtin("<", |args| {\n        arity("<", args, 2)?;\n'
                    "        Ok(Value::Bool(int(&args[0])? < int(&args[1])?))\n    });\n"
                    '    env.builtin("concat"', '    env.builtin("concat"'))
MSG_DIVIDE = edit("message: division by zero", "body",
                  ("error.rs", '"division by zero"', '"cannot divide by zero"'))
MSG_UNBOUND = edit("message: unbound symbol", "body",
                   ("error.rs", '"unbound symbol `{}`"', '"`{}` is not defined"'))
MSG_TYPE = edit("message: type error", "body",
                ("error.rs", '"type error: expected {}, got {}"',
                 '"expected a value of type {}, not {}"'))
TYPE_NAME = edit("literal: int is called integer", "body",
                 ("value.rs", 'Value::Int(_) => "int",', 'Value::Int(_) => "integer",'))
FORMAT_LIST = edit("format: lists with commas", "body",
                   ("value.rs", 'write!(f, " ")?;', 'write!(f, ", ")?;'))
FORMAT_STR = edit("format: strings in single quotes", "body",
                  ("value.rs", 'Value::Str(s) => write!(f, "\\"{}\\"", s),',
                   "Value::Str(s) => write!(f, \"'{}'\", s),"))
HELPER_ADD = edit(
    "helper: value::shout, used by Display", "helper",
    ("value.rs", 'Value::Str(s) => write!(f, "\\"{}\\"", s),',
     'Value::Str(s) => write!(f, "\\"{}\\"", shout(s)),'),
    ("value.rs", "/// The integer in `value`, or a type error.",
     "/// `s`, louder.\npub fn shout(s: &str) -> String {\n    format!(\"{}!\", s)\n}\n\n"
     "/// The integer in `value`, or a type error."),
    keep_while=(("env.rs", "value::shout"),))
HELPER_CALL = edit("helper: concat calls value::shout (another module)", "helper",
                   ("env.rs", "out.push_str(text(arg)?);",
                    "out.push_str(&crate::value::shout(text(arg)?));"),
                   requires=(("value.rs", "pub fn shout"),))
HELPER_CHANGE = edit("helper: value::shout shouts twice", "helper",
                     ("value.rs", 'format!("{}!", s)', 'format!("{}!!", s)'))
TWO_MODULES = edit("two modules: type-of in brackets, string is called text", "stale",
                   ("env.rs", "Ok(Value::Str(args[0].type_name().to_string()))",
                    'Ok(Value::Str(format!("<{}>", args[0].type_name())))'),
                   ("value.rs", 'Value::Str(_) => "string",', 'Value::Str(_) => "text",'))
ONE_MODULE = edit("one module: text is called str", "stale",
                  ("value.rs", 'Value::Str(_) => "text",', 'Value::Str(_) => "str",'))
ENUM_MIDDLE = edit(
    "layout: Value::Float in the middle of Value", "layout",
    ("value.rs", "    Int(i64),\n    Str(String),",
     "    Int(i64),\n    Float(f64),\n    Str(String),"),
    ("value.rs", '            Value::Str(_) => "string",',
     '            Value::Float(_) => "float",\n            Value::Str(_) => "string",'),
    ("value.rs", '            Value::Int(n) => write!(f, "{}", n),',
     '            Value::Int(n) => write!(f, "{}", n),\n'
     '            Value::Float(x) => write!(f, "{}", x),'))
BINDING_FIELD = edit(
    "layout: a field in Binding", "layout",
    ("env.rs", "    pub uses: u32,\n}", "    pub uses: u32,\n    pub born: u64,\n}"),
    ("env.rs", "Binding { value, uses: 0 }", "Binding { value, uses: 0, born: 1 }"),
    ("env.rs", "Binding { value: Value::List(Vec::new()), uses: 0 }",
     "Binding { value: Value::List(Vec::new()), uses: 0, born: 2 }"))
ERROR_VARIANT = edit(
    "error: an Overflow variant, used by *", "layout",
    ("error.rs", "    DivideByZero,\n    Index", "    Overflow,\n    DivideByZero,\n    Index"),
    ("error.rs", '            EvalError::DivideByZero => write!(f, "division by zero"),',
     '            EvalError::Overflow => write!(f, "the number is too big"),\n'
     '            EvalError::DivideByZero => write!(f, "division by zero"),'),
    ("env.rs", "product *= int(arg)?;",
     "product = i64::checked_mul(product, int(arg)?).ok_or(EvalError::Overflow)?;"),
    forbids=(("error.rs", "Overflow"),))
RENAME_BINDING = Edit("rename: Binding is called Slot", "rename",
                      (Change("env.rs", "Binding", "Slot", every=True),))
RETYPE_USES = edit(
    "retype: Binding::uses is a u64", "rename",
    ("env.rs", "    pub uses: u32,", "    pub uses: u64,"),
    ("env.rs", "pub fn uses(name: &str) -> Result<u32, EvalError>",
     "pub fn uses(name: &str) -> Result<u64, EvalError>"),
    ("env.rs", "pub fn total_uses() -> u32", "pub fn total_uses() -> u64"))
STD_UPPER = edit("std: type-of in upper case (to_uppercase)", "std",
                 ("env.rs", "Ok(Value::Str(args[0].type_name().to_string()))",
                  "Ok(Value::Str(args[0].type_name().to_uppercase()))"))
STD_REPEAT = edit("std: concat doubles each part (repeat)", "std",
                  ("env.rs", "out.push_str(text(arg)?);", "out.push_str(&text(arg)?.repeat(2));"))
STD_LOWER = edit("std: rev of a string in lower case (to_lowercase)", "std",
                 ("env.rs", "Value::Str(s) => Ok(Value::Str(s.chars().rev().collect())),",
                  "Value::Str(s) => Ok(Value::Str(s.to_lowercase().chars().rev().collect())),"))
STD_HASHSET = edit("std: len of a string counts distinct chars (a first HashSet<char>)", "std",
                   ("env.rs", "Ok(Value::Int(s.chars().count() as i64))",
                    "Ok(Value::Int(s.chars().collect::<std::collections::HashSet<char>>()"
                    ".len() as i64))"))
STD_PANIC = edit("std: division by zero panics with a formatted message", "std",
                 ("env.rs", "            return Err(EvalError::DivideByZero);",
                  '            panic!("{} divided by zero", int(&args[0])?);'))
SIGNATURE = edit("signature: lookup takes how much a use counts, every caller too", "signature",
                 ("env.rs", "pub fn lookup(name: &str) -> Result<Value, EvalError>",
                  "pub fn lookup(name: &str, weight: u32) -> Result<Value, EvalError>"),
                 ("env.rs", "binding.uses += 1;", "binding.uses += weight;"),
                 ("eval.rs", "_ => env::lookup(name),", "_ => env::lookup(name, 1),"))
COMPILE_ERROR = edit("compile error: a missing dereference", "compile",
                     ("eval.rs", "Expr::Int(n) => Ok(Value::Int(*n)),",
                      "Expr::Int(n) => Ok(Value::Int(n)),"))

CATALOGUE: tuple[Edit, ...] = (
    BODY_PLUS, BODY_LEN, BODY_EQ, BODY_HOOK, BODY_EXCLAIM, ADD_FIRST, ADD_MIDDLE, ADD_LAST,
    REMOVE_LESS, MSG_DIVIDE, MSG_UNBOUND, MSG_TYPE, TYPE_NAME, FORMAT_LIST, FORMAT_STR,
    HELPER_ADD, HELPER_CALL, HELPER_CHANGE, TWO_MODULES, ONE_MODULE, ENUM_MIDDLE,
    BINDING_FIELD, ERROR_VARIANT, RENAME_BINDING, RETYPE_USES, STD_UPPER, STD_REPEAT, STD_LOWER,
    STD_HASHSET, STD_PANIC, SIGNATURE, COMPILE_ERROR,
)

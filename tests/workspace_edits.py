"""The workspace example's workload and its catalogue of edits, for tests/differential.py.

examples/workspace is three crates: `app` (the cdylib, its cart in a `thread_local!`), `model`
(the items, the `Priced` trait, the generic `total`) and `ui` (prices and lines as text). The
edits are the interp catalogue's kinds (see interp_edits.py), made across crate boundaries:

  body        a function of a member crate (ui's format, model's `cents`)
  generic     model's generic `total`, whose code lives in app's units
  helper      a function added to one crate and called from another (a generic one too)
  layout      a field added to `model::Item`, which the cart holds
  rename      `model::Item` renamed, with app's uses
  std         a std function the workspace never called before
  signature   `ui::price` takes another argument, its callers in ui and app changed with it
  compile     a compile error in a member crate (its revert is the fix)

No edit changes what the history stores: `model::item`, which makes the items the cart
keeps, is left alone (its prices and names are the state).
"""

from __future__ import annotations

from differential import Change, Edit, ExportApp, Workload

SETUP = ("add_item 0", "add_item 1", "add_item 0", "add_item 2", "add_item 1", "add_item 0")
PROBES = ("total_cents", "lines", "added", "page:lines", "page:total")

WORKLOAD = Workload(SETUP, PROBES, (), crate="app", files=".", app=ExportApp)

UI = "ui/src/lib.rs"
MODEL = "model/src/lib.rs"
APP = "app/src/lib.rs"


def edit(name: str, kind: str, *changes: tuple[str, str, str] | tuple[str, str, str, bool],
         **extra: object) -> Edit:
    return Edit(name, kind, tuple(Change(*c) for c in changes), **extra)  # type: ignore[arg-type]


PRICE = 'format!("${}.{:02}", cents / 100, cents % 100)'
LINE = 'format!("{} x{} {}", name, quantity, price(cents))'
TOTAL = "things.iter().map(Priced::cents).sum()"
CENTS = "        self.unit_cents * self.quantity\n"
CATALOGUE_MARK = "/// The catalogue"
SHOW_TOTAL = 'ui::show("total", &format!("total {}", ui::price(model::total(&cart))));'
RENDER_LINES = 'ui::show("lines", &lines.join(", "));'

UI_EURO = edit("ui: prices in euros", "body",
               (UI, PRICE, 'format!("{}.{:02} EUR", cents / 100, cents % 100)'))
UI_LINE = edit("ui: a line puts the price first", "body",
               (UI, LINE, 'format!("{} for {} x{}", price(cents), name, quantity)'))
MODEL_CENTS = edit("model: every item costs a cent more", "body",
                   (MODEL, CENTS, "        self.unit_cents * self.quantity + 1\n"))
APP_SEPARATOR = edit("app: lines joined with semicolons", "body",
                     (APP, 'lines.join(", ")', 'lines.join("; ")'))
TOTAL_LESS = edit("model: total takes 50 off (a generic app instantiates)", "generic",
                  (MODEL, TOTAL, "things.iter().map(Priced::cents).sum::<i64>() - 50"))
TOTAL_FOLD = edit("model: total as a fold that doubles", "generic",
                  (MODEL, TOTAL, "things.iter().fold(0, |sum, t| sum + 2 * t.cents())"))
TAX_ADD = edit("model: a tax helper", "helper",
               (MODEL, CATALOGUE_MARK, "/// Tax on a price.\npub fn tax(cents: i64) -> i64 {\n"
                "    cents / 10\n}\n\n" + CATALOGUE_MARK),
               keep_while=((APP, "model::tax("),))
TAX_CALL = edit("app: shows the tax (model's new helper)", "helper",
                (APP, SHOW_TOTAL, 'let total = model::total(&cart);\n        ui::show("total", '
                 '&format!("total {} tax {}", ui::price(total), ui::price(model::tax(total))));'),
                requires=((MODEL, "pub fn tax("),), forbids=((UI, "unit: &str"),))
MOST_ADD = edit("model: a generic `dearest` added and used by app", "helper",
                (MODEL, CATALOGUE_MARK, "/// The highest price of all.\npub fn dearest<T: Priced>"
                 "(things: &[T]) -> i64 {\n    things.iter().map(Priced::cents).max()"
                 ".unwrap_or(0)\n}\n\n" + CATALOGUE_MARK),
                (APP, RENDER_LINES, 'ui::show("lines", &format!("{} (dearest {})", '
                 'lines.join(", "), ui::price(model::dearest(&cart))));'),
                forbids=((UI, "unit: &str"),))
UI_SHOUT = edit("ui: names in capitals (str::to_uppercase, new to the app)", "std",
                (UI, LINE, 'format!("{} x{} {}", name.to_uppercase(), quantity, price(cents))'))
PRICE_UNIT = edit("ui: price takes its currency, callers in ui and app", "signature",
                  (UI, "pub fn price(cents: i64) -> String {\n    " + PRICE,
                   'pub fn price(cents: i64, unit: &str) -> String {\n    format!("{}{}.{:02}", '
                   "unit, cents / 100, cents % 100)"),
                  (UI, "price(cents))", 'price(cents, "$"))'),
                  (APP, "ui::price(model::total(&cart))", 'ui::price(model::total(&cart), "$")'),
                  forbids=((APP, "ui::price(total)"), (APP, "model::dearest(&cart))")))
ITEM_FIELD = edit("layout: model::Item gets a `gift` field", "layout",
                  (MODEL, "    pub quantity: i64,\n}",
                   "    pub quantity: i64,\n    pub gift: bool,\n}"),
                  (MODEL, "Item { name: \"tea\", unit_cents: 250, quantity: 1 }",
                   "Item { name: \"tea\", unit_cents: 250, quantity: 1, gift: false }"),
                  (MODEL, "Item { name: \"cake\", unit_cents: 400, quantity: 1 }",
                   "Item { name: \"cake\", unit_cents: 400, quantity: 1, gift: false }"),
                  (MODEL, "Item { name: \"water\", unit_cents: 100, quantity: 1 }",
                   "Item { name: \"water\", unit_cents: 100, quantity: 1, gift: false }"))
RENAME_ITEM = edit("rename: model::Item is called Entry", "rename",
                   (MODEL, "Item", "Entry", True), (APP, "Item", "Entry", True))
COMPILE_ERROR = edit("compile error in model", "compile",
                     (MODEL, "pub trait Priced {\n",
                      "pub trait Priced {\n    const BROKEN: u32 = \"text\";\n"))

CATALOGUE = (UI_EURO, UI_LINE, MODEL_CENTS, APP_SEPARATOR, TOTAL_LESS, TOTAL_FOLD, TAX_ADD,
             TAX_CALL, MOST_ADD, UI_SHOUT, PRICE_UNIT, ITEM_FIELD, RENAME_ITEM, COMPILE_ERROR)

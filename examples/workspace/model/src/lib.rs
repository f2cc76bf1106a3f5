//! The shop's data: what the cart holds and what things cost. A member crate of the workspace:
//! `app` calls it, and instantiates its generic `total` in its own code.

/// Something with a price, in cents.
pub trait Priced {
    fn cents(&self) -> i64;
}

/// One line of the cart.
#[derive(Clone, Debug)]
pub struct Item {
    pub name: &'static str,
    pub unit_cents: i64,
    pub quantity: i64,
}

impl Priced for Item {
    fn cents(&self) -> i64 {
        self.unit_cents * self.quantity
    }
}

/// The sum of the prices. Generic: its code is compiled into the crate that calls it.
pub fn total<T: Priced>(things: &[T]) -> i64 {
    things.iter().map(Priced::cents).sum()
}

/// The catalogue, by the number the page's buttons give.
pub fn item(kind: i32) -> Item {
    match kind {
        0 => Item { name: "tea", unit_cents: 250, quantity: 1 },
        1 => Item { name: "cake", unit_cents: 400, quantity: 1 },
        _ => Item { name: "water", unit_cents: 100, quantity: 1 },
    }
}

//! The text the page shows for a count.

pub fn render(count: i32) -> String {
    match count {
        0 => String::from("nothing yet"),
        1 => String::from("one click"),
        n => format!("{} clicks", n),
    }
}

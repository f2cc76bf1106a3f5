//! The app's state: the todo items, in a `thread_local!`. The DOM only shows it; every event
//! changes it here first, then the view renders it again.

use std::cell::RefCell;

/// One entry of the list.
pub struct Item {
    /// Unique for the life of the page: the view finds the item of a clicked row by it.
    pub id: u32,
    pub text: String,
    pub done: bool,
}

/// The list, and the id the next item gets.
#[derive(Default)]
pub struct Todos {
    items: Vec<Item>,
    next_id: u32,
}

impl Todos {
    /// Adds an open item; blank text adds nothing. True when an item was added.
    pub fn add(&mut self, text: &str) -> bool {
        let text = text.trim();
        if text.is_empty() {
            return false;
        }
        self.next_id += 1;
        self.items.push(Item { id: self.next_id, text: text.to_owned(), done: false });
        true
    }

    /// Marks an open item done, or a done one open again.
    pub fn toggle(&mut self, id: u32) {
        if let Some(item) = self.items.iter_mut().find(|item| item.id == id) {
            item.done = !item.done;
        }
    }

    pub fn remove(&mut self, id: u32) {
        self.items.retain(|item| item.id != id);
    }

    pub fn items(&self) -> &[Item] {
        &self.items
    }

    /// How many items are not done yet.
    pub fn open_count(&self) -> usize {
        self.items.iter().filter(|item| !item.done).count()
    }
}

thread_local! {
    static TODOS: RefCell<Todos> = RefCell::new(Todos::default());
}

/// Runs `f` on the state. Never call it from inside `f`: the state is borrowed once at a time.
pub fn with<R>(f: impl FnOnce(&mut Todos) -> R) -> R {
    TODOS.with(|todos| f(&mut todos.borrow_mut()))
}

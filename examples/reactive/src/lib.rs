//! A small reactive runtime in the style of Leptos: signals hold values, effects re-run when a
//! signal they read changes, and everything lives in one `Runtime` per thread. The signals
//! example drives it through `extern "C"` functions, signals-web through web-sys; both depend
//! on this crate by path.
//!
//! Like Leptos, the runtime is reached through a `thread_local!` and access panics when it is
//! missing. That is the state a hot patch must bind to: a patch that brought its own copy of
//! `RUNTIME` would see an empty one and fail with "no reactive runtime".

use std::any::Any;
use std::cell::RefCell;
use std::marker::PhantomData;
use std::rc::Rc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SignalId(usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct EffectId(usize);

struct SignalSlot {
    // Shared, so a value can be borrowed after the runtime's own borrow ended: reads nest.
    value: Rc<RefCell<dyn Any>>,
    subscribers: Vec<EffectId>,
}

struct EffectSlot {
    run: Rc<dyn Fn()>,
    sources: Vec<SignalId>,
}

/// Every signal and effect of the app, plus the bookkeeping that connects them.
pub struct Runtime {
    signals: Vec<SignalSlot>,
    effects: Vec<EffectSlot>,
    /// The effect being run, innermost last; `None` marks an `untrack` scope.
    observers: Vec<Option<EffectId>>,
    /// Effects waiting to run, in the order their signals changed.
    queue: Vec<EffectId>,
    flushing: bool,
    effect_runs: u32,
}

thread_local! {
    static RUNTIME: RefCell<Option<Runtime>> = RefCell::new(None);
}

impl Runtime {
    /// Runs `f` with the current runtime; panics when none was created, as Leptos does.
    pub fn with<R>(f: impl FnOnce(&mut Runtime) -> R) -> R {
        RUNTIME.with(|rt| {
            let mut guard = rt.borrow_mut();
            match guard.as_mut() {
                Some(rt) => f(rt),
                None => {
                    // On wasm a panic is a trap: no destructor runs, and a borrow held here
                    // would stay held for good. Let go of it first.
                    drop(guard);
                    panic!("no reactive runtime: call create_runtime() first")
                }
            }
        })
    }

    pub fn signal_count(&self) -> usize {
        self.signals.len()
    }

    pub fn effect_runs(&self) -> u32 {
        self.effect_runs
    }

    fn track(&mut self, signal: SignalId) {
        if let Some(&Some(effect)) = self.observers.last() {
            let slot = &mut self.signals[signal.0];
            if !slot.subscribers.contains(&effect) {
                slot.subscribers.push(effect);
                self.effects[effect.0].sources.push(signal);
            }
        }
    }

    fn notify(&mut self, signal: SignalId) {
        for &effect in &self.signals[signal.0].subscribers {
            if !self.queue.contains(&effect) {
                self.queue.push(effect);
            }
        }
    }
}

/// Creates this thread's runtime; a second call keeps the existing one.
pub fn create_runtime() {
    RUNTIME.with(|rt| {
        rt.borrow_mut().get_or_insert_with(|| Runtime {
            signals: Vec::new(),
            effects: Vec::new(),
            observers: Vec::new(),
            queue: Vec::new(),
            flushing: false,
            effect_runs: 0,
        });
    });
}

/// The reading half of a signal.
pub struct ReadSignal<T> {
    id: SignalId,
    ty: PhantomData<T>,
}

/// The writing half of a signal.
pub struct WriteSignal<T> {
    id: SignalId,
    ty: PhantomData<T>,
}

// Handles are plain ids: copyable whatever `T` is (a derive would demand `T: Copy`).
impl<T> Clone for ReadSignal<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ReadSignal<T> {}
impl<T> Clone for WriteSignal<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for WriteSignal<T> {}

/// A new signal holding `value`.
pub fn create_signal<T: 'static>(value: T) -> (ReadSignal<T>, WriteSignal<T>) {
    let id = Runtime::with(|rt| {
        let value = Rc::new(RefCell::new(value));
        rt.signals.push(SignalSlot { value, subscribers: Vec::new() });
        SignalId(rt.signals.len() - 1)
    });
    (ReadSignal { id, ty: PhantomData }, WriteSignal { id, ty: PhantomData })
}

impl<T: 'static> ReadSignal<T> {
    /// Borrows the value; the running effect (if any) subscribes to this signal.
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let value = Runtime::with(|rt| {
            rt.track(self.id);
            Rc::clone(&rt.signals[self.id.0].value)
        });
        let value = value.borrow();
        f(value.downcast_ref().expect("signal of another type"))
    }

    pub fn get(&self) -> T
    where
        T: Clone,
    {
        self.with(T::clone)
    }
}

impl<T: 'static> WriteSignal<T> {
    /// Changes the value in place, then runs every effect that read it.
    pub fn update(&self, f: impl FnOnce(&mut T)) {
        let value = Runtime::with(|rt| Rc::clone(&rt.signals[self.id.0].value));
        f(value.borrow_mut().downcast_mut().expect("signal of another type"));
        Runtime::with(|rt| rt.notify(self.id));
        flush();
    }

    pub fn set(&self, value: T) {
        self.update(|slot| *slot = value);
    }
}

/// Runs `f` now and again whenever a signal it read changes.
pub fn create_effect(f: impl Fn() + 'static) {
    let id = Runtime::with(|rt| {
        rt.effects.push(EffectSlot { run: Rc::new(f), sources: Vec::new() });
        EffectId(rt.effects.len() - 1)
    });
    run_effect(id);
}

/// Runs `f` without subscribing the current effect to the signals `f` reads.
pub fn untrack<R>(f: impl FnOnce() -> R) -> R {
    Runtime::with(|rt| rt.observers.push(None));
    let result = f();
    Runtime::with(|rt| rt.observers.pop());
    result
}

/// Re-runs `effect`, tracking its reads afresh. The closure runs with no borrow of the runtime
/// held, so it can read and write signals.
fn run_effect(effect: EffectId) {
    let run = Runtime::with(|rt| {
        for source in std::mem::take(&mut rt.effects[effect.0].sources) {
            rt.signals[source.0].subscribers.retain(|&e| e != effect);
        }
        rt.observers.push(Some(effect));
        rt.effect_runs += 1;
        Rc::clone(&rt.effects[effect.0].run)
    });
    run();
    Runtime::with(|rt| rt.observers.pop());
}

/// Runs queued effects until none is left; a write inside an effect only queues.
fn flush() {
    let start = Runtime::with(|rt| !std::mem::replace(&mut rt.flushing, true));
    if !start {
        return;
    }
    while let Some(effect) = Runtime::with(|rt| (!rt.queue.is_empty()).then(|| rt.queue.remove(0)))
    {
        run_effect(effect);
    }
    Runtime::with(|rt| rt.flushing = false);
}

/// Runs every effect again, in the order they were made: after a hot patch, so that the new
/// code renders with the signals' values as they are.
pub fn rerun_effects() {
    Runtime::with(|rt| {
        for effect in (0..rt.effects.len()).map(EffectId) {
            if !rt.queue.contains(&effect) {
                rt.queue.push(effect);
            }
        }
    });
    flush();
}

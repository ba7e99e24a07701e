//! Integration tests of the engine: calendar order against a reference heap, and the tidy rules
//! that keep the engine generic and deterministic.

mod calendar;
mod shared;
mod tidy;

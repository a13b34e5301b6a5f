pub mod catalog;
pub mod spec;
pub mod validate;

//! Golden tests for the Messages stream converter.

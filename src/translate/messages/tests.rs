//! Golden tests for the Messages request translation.

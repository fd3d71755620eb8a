//! End-to-end tests: the real `gateway-zero` and `mock-upstream` binaries on loopback,
//! driven over HTTP, on SQLite and (with GATEWAY_TEST_DATABASE_URL) Postgres.

mod harness;

mod admin_api;
mod budgets;
mod claude_code;
mod claude_code_protocol;
mod cli;
mod cluster;
mod cluster_accounts;
mod cluster_keys;
mod compaction;
mod console;
mod dialects;
mod end_users;
mod errors;
mod gateway_protocol;
mod hostile;
mod legs;
mod lists;
mod login;
mod logs;
mod observability;
mod openapi;
mod proxy;
mod responses;
mod responses_socket;
mod sdk;
mod small_doors;
mod trace_context;
mod traces;

mod upstream_wire;

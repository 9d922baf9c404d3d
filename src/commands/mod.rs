//! One module per command of the service binary `pagesift`. Commands are the edges: they parse
//! their arguments, do the IO, print, use `anyhow`, and call the library (the pure
//! [`crate::pipeline`], [`crate::worker`], [`crate::page_file`]). The development commands
//! (training, evaluation, the load test) are in the `pagesift-dev` binary (`src/bin/pagesift-dev/`).

pub mod check_config;
pub mod dead_letters;
pub mod probe;
pub mod process;
pub mod publish;
pub mod run;

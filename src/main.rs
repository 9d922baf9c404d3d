//! The `pagesift` binary: parses the command line and hands over to [`pagesift::cli`].

use std::process::ExitCode;

fn main() -> ExitCode {
    pagesift::cli::main()
}

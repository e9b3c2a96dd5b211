#pragma once
// The subcommands of the `mesl` executable. Each takes argv starting at its own name and returns an exit code;
// errors are thrown as mesl::Error and turned into one line by main().
namespace mesl::cli {

int codec_command(int argc, char** argv);   // mesl codec ...
int train_command(int argc, char** argv);   // mesl train ...
int errors_command(int argc, char** argv);  // mesl errors ...

}  // namespace mesl::cli
